//! Entry point; everything lives in the library so tests can reach it.

fn main() {
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect();
    let code = match args {
        Ok(args) => ladle_builder::main_with_args(args),
        Err(bad) => {
            eprintln!("argument is not valid UTF-8: {bad:?}");
            ladle_contract::exit_codes::USAGE
        }
    };
    std::process::exit(code);
}
