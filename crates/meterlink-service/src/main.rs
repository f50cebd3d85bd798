//! `meterlink-serve [CONFIG.toml] [--keys FILE]...` (or `--broker-only [ADDR]`: the embedded
//! MQTT broker alone): the service as a plain binary (the Python CLI's `meterlink serve` runs
//! the same [`meterlink_service::run`]). Without a configuration file it is the embedded
//! head-end of issue 15 §1 (broker on 127.0.0.1:1883, HTTP on 127.0.0.1:8080, `meterlink.db`).
//! `--loadgen [OPTIONS]` runs the load generator of §5 instead ([`meterlink_service::loadgen`]).

/// mimalloc instead of glibc malloc (decisions: "Allocator of meterlink-serve"): receptions are
/// allocated on the intake's tasks and freed on the store thread, the cross-thread pattern
/// under which glibc's per-thread arenas kept growing in the full-rate soak.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--broker-only") {
        // The embedded broker alone, in a process of its own (intake/broker.rs).
        let listen = args.get(1).map_or("127.0.0.1:1883", String::as_str);
        if let Err(e) = meterlink_service::intake::broker::run_forever(listen) {
            eprintln!("meterlink-serve: {e}");
            std::process::exit(1);
        }
    }
    if args.first().map(String::as_str) == Some("--loadgen") {
        match meterlink_service::loadgen::cli::run(&args[1..]) {
            Ok(summary) => {
                println!("{summary}");
                std::process::exit(0);
            }
            Err(e) => exit(2, &e),
        }
    }
    let (path, keys) = match split_args(&args) {
        Ok(v) => v,
        Err(e) => exit(2, &e),
    };
    let mut config = match path.as_deref().map(meterlink_service::config::Config::from_file) {
        None => meterlink_service::config::Config::default(),
        Some(Ok(c)) => c,
        Some(Err(e)) => exit(2, &e.to_string()),
    };
    config.keys.files.extend(keys.into_iter().map(Into::into));
    if let Err(e) = meterlink_service::run(config) {
        exit(1, &e.to_string());
    }
}

/// The configuration path (optional) and every `--keys FILE`.
fn split_args(args: &[String]) -> Result<(Option<String>, Vec<String>), String> {
    let (mut path, mut keys) = (None, Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--keys" => keys.push(it.next().ok_or("--keys needs a file")?.clone()),
            "-h" | "--help" => return Err("usage: meterlink-serve [CONFIG.toml] [--keys FILE]... | --broker-only [ADDR] | --loadgen [OPTIONS]".into()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if path.is_none() => path = Some(s.to_string()),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    Ok((path, keys))
}

fn exit(code: i32, msg: &str) -> ! {
    eprintln!("meterlink-serve: {msg}");
    std::process::exit(code)
}
