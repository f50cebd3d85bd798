//! `meterlink-serve CONFIG.toml` (or `--broker-only [ADDR]`: the embedded MQTT broker alone):
//! the service as a plain binary (the Python CLI's
//! `meterlink serve` runs the same [`meterlink_service::run`]).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--broker-only") {
        // The embedded broker alone, in a process of its own (intake/broker.rs).
        let listen = args.get(2).map_or("127.0.0.1:1883", String::as_str);
        if let Err(e) = meterlink_service::intake::broker::run_forever(listen) {
            eprintln!("meterlink-serve: {e}");
            std::process::exit(1);
        }
    }
    let path = args.get(1).cloned();
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
