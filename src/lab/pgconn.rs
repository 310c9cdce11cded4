//! Opening a Postgres connection over our own TCP stream (`connect_raw`): the crate is built
//! without tokio-postgres's `runtime` feature, and owning the socket keeps every wait under
//! the caller's timeout.

use std::fmt;
use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls};

#[derive(Debug)]
pub enum ConnectError {
    Tcp(std::io::Error),
    Pg(tokio_postgres::Error),
}

impl ConnectError {
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            ConnectError::Pg(e) => e.code(),
            ConnectError::Tcp(_) => None,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Tcp(e) => write!(f, "tcp connect: {e}"),
            ConnectError::Pg(e) => match e.as_db_error() {
                Some(db) => write!(f, "{} {}", db.code().code(), db.message()),
                None => {
                    write!(f, "{e}")?;
                    let mut source = std::error::Error::source(e);
                    while let Some(s) = source {
                        write!(f, ": {s}")?;
                        source = s.source();
                    }
                    Ok(())
                }
            },
        }
    }
}

impl std::error::Error for ConnectError {}

pub(crate) type Conn = Connection<TcpStream, NoTlsStream>;

pub async fn connect(config: &Config, addr: SocketAddr) -> Result<(Client, Conn), ConnectError> {
    let stream = TcpStream::connect(addr).await.map_err(ConnectError::Tcp)?;
    let _ = stream.set_nodelay(true);
    config
        .connect_raw(stream, NoTls)
        .await
        .map_err(ConnectError::Pg)
}

/// A config for `user` on `dbname` (no host: the address is given to `connect`).
pub fn config(user: &str, dbname: &str, application_name: &str) -> Config {
    let mut c = Config::new();
    c.user(user)
        .dbname(dbname)
        .application_name(application_name);
    c
}
