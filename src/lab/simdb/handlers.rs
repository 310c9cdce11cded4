//! pgwire handlers for one connection of the simulated database. They are built per connection
//! so the admission decision (taken when the connection was accepted, like the postmaster's)
//! travels with it.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::StartupHandler;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::{ClientInfo, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::sql::{Cell, Facts, SimQuery, statements};

/// A refusal sent instead of authentication: SQLSTATE and message, severity FATAL.
pub(super) type Refusal = (&'static str, &'static str);

pub(super) struct ConnHandlers {
    pub startup: Arc<Startup>,
    pub queries: Arc<Queries>,
}

impl PgWireServerHandlers for ConnHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.queries.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }
}

pub(super) struct Startup {
    pub refusal: Option<Refusal>,
}

/// Trust authentication: pgwire's no-op handler does startup parameters, BackendKeyData and
/// ReadyForQuery without asking for a password.
struct Trust;

impl NoopStartupHandler for Trust {}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let (Some((code, text)), PgWireFrontendMessage::Startup(_)) = (self.refusal, &message) {
            // FATAL makes pgwire send the ErrorResponse and close, before any authentication
            // request: what a real server does for 53300 and 57P03.
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".into(),
                code.into(),
                text.into(),
            ))));
        }
        Trust.on_startup(client, message).await
    }
}

pub(super) struct Queries {
    pub(crate) facts: Box<dyn Fn() -> Facts + Send + Sync>,
}

fn field(name: String, ty: Type, format: FieldFormat) -> FieldInfo {
    FieldInfo::new(name, None, None, ty, format)
}

fn respond(q: &SimQuery, facts: Facts, format: &Format) -> PgWireResult<Response> {
    let Some(cell) = q.answer(facts)? else {
        let tag = match q {
            SimQuery::Command(c) => c.as_str(),
            _ => "OK",
        };
        return Ok(Response::Execution(Tag::new(tag)));
    };
    let name = q
        .column()
        .map_or_else(|| "?column?".to_string(), |(n, _)| n);
    let schema = Arc::new(vec![field(name, cell.pg_type(), format.format_for(0))]);
    let mut enc = DataRowEncoder::new(schema.clone());
    match &cell {
        Cell::Int4(v) => enc.encode_field(v)?,
        Cell::Int8(v) => enc.encode_field(v)?,
        Cell::Text(v) => enc.encode_field(v)?,
    }
    let row = enc.take_row();
    Ok(Response::Query(QueryResponse::new(
        schema,
        futures::stream::iter(vec![Ok(row)]),
    )))
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let facts = (self.facts)();
        statements(query)
            .map(|s| respond(&SimQuery::parse(s)?, facts, &Format::UnifiedText))
            .collect()
    }
}

pub(super) struct Parser;

#[async_trait]
impl QueryParser for Parser {
    type Statement = SimQuery;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<SimQuery>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        SimQuery::parse(sql).map(Some)
    }

    fn get_parameter_types(&self, _stmt: &SimQuery) -> PgWireResult<Vec<Type>> {
        Ok(Vec::new())
    }

    fn get_result_schema(
        &self,
        stmt: &SimQuery,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let format = column_format.map_or(FieldFormat::Text, |f| f.format_for(0));
        Ok(stmt
            .column()
            .map(|(name, ty)| field(name, ty, format))
            .into_iter()
            .collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = SimQuery;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        Arc::new(Parser)
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        portal: &Portal<SimQuery>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        respond(
            &portal.statement.statement,
            (self.facts)(),
            &portal.result_column_format,
        )
    }
}
