fn main() -> std::process::ExitCode {
    connscope::cmd::main().into()
}
