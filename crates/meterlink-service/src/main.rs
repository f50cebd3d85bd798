//! `meterlink-serve CONFIG.toml`: the service as a plain binary (the Python CLI's
//! `meterlink serve` runs the same [`meterlink_service::run`]).

fn main() {
    let path = std::env::args().nth(1);
    let config = match path.as_deref().map(meterlink_service::config::Config::from_file) {
        None => Ok(meterlink_service::config::Config::default()),
        Some(r) => r,
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meterlink-serve: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = meterlink_service::run(config) {
        eprintln!("meterlink-serve: {e}");
        std::process::exit(1);
    }
}
