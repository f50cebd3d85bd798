//! `meterlink-serve --loadgen [OPTIONS]` / `meterlink loadgen [OPTIONS]`: the command line of
//! the load generator. Prints one JSON line with the [`Summary`](super::Summary) at the end.

use std::io::Write;

use super::{publish, Generator, LoadConfig, PublishOptions};

/// The usage text.
pub const USAGE: &str = "usage: loadgen [--url mqtt://HOST:PORT] [--prefix telegrams] [--qos 0|1] [--rate PER_S] [--limit N]
               [--meters N] [--dsmr-e-meters N] [--gateways G] [--rounds R] [--period-s S]
               [--loss 0..1] [--skew-ms MS] [--seed N] [--start UNIX_S]
               [--keys-out FILE] [--dry-run]
  publishes wM-Bus (mode 5 / mode 7) and DSMR P2 (method 15) telegrams of N meters as G gateways
  hear them (loss and clock skew per gateway), JSON {telegram, gateway, time, rssi} on
  PREFIX/gw-NNN; --keys-out writes the meters' key file; --dry-run prints the publications
  (topic TAB payload) instead of publishing; --limit N stops after N publications (a probe:
  --limit 1 publishes the run's first reception, which the full run repeats as a duplicate).";

fn num<T: std::str::FromStr>(flag: &str, v: Option<&String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: not a number: {v:?}"))
}

/// `mqtt://host:port` (or `host:port`, or `host`) → (host, port).
fn host_port(url: &str) -> Result<(String, u16), String> {
    let rest = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")).unwrap_or(url);
    match rest.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), p.parse().map_err(|_| format!("--url: bad port in {url:?}"))?)),
        None => Ok((rest.to_string(), 1883)),
    }
}

struct Args {
    cfg: LoadConfig,
    opts: PublishOptions,
    keys_out: Option<String>,
    dry_run: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let (mut cfg, mut opts) = (LoadConfig::default(), PublishOptions::default());
    let (mut keys_out, mut dry_run) = (None, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = || it.clone().next();
        match a.as_str() {
            "--url" => (opts.host, opts.port) = host_port(v().ok_or("--url needs a value")?)?,
            "--prefix" => opts.prefix = v().ok_or("--prefix needs a value")?.clone(),
            "--qos" => opts.qos = num("--qos", v())?,
            "--rate" => opts.rate = num("--rate", v())?,
            "--limit" => opts.limit = num("--limit", v())?,
            "--meters" => cfg.meters = num("--meters", v())?,
            "--dsmr-e-meters" => cfg.dsmr_e_meters = num("--dsmr-e-meters", v())?,
            "--gateways" => cfg.gateways = num("--gateways", v())?,
            "--rounds" => cfg.rounds = num("--rounds", v())?,
            "--period-s" => cfg.period_s = num("--period-s", v())?,
            "--loss" => cfg.loss = num("--loss", v())?,
            "--skew-ms" => cfg.skew_ms = num("--skew-ms", v())?,
            "--seed" => cfg.seed = num("--seed", v())?,
            "--start" => cfg.start = num("--start", v())?,
            "--keys-out" => keys_out = Some(v().ok_or("--keys-out needs a value")?.clone()),
            "--dry-run" => {
                dry_run = true;
                continue;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
        it.next();
    }
    if opts.qos > 1 {
        return Err("--qos must be 0 or 1".into());
    }
    Ok(Args { cfg, opts, keys_out, dry_run })
}

/// Run the command line; returns the summary as a JSON line, or the error / usage text.
pub fn run(args: &[String]) -> Result<String, String> {
    let a = parse(args)?;
    let mut gen = Generator::new(a.cfg).map_err(|e| e.to_string())?;
    if let Some(path) = &a.keys_out {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?);
        gen.write_key_file(&mut f).and_then(|()| f.flush()).map_err(|e| format!("{path}: {e}"))?;
    }
    let summary = if a.dry_run {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for p in gen.by_ref() {
            writeln!(out, "{}/{}\t{}", a.opts.prefix, super::gateway_name(p.gateway), p.payload).map_err(|e| e.to_string())?;
        }
        gen.summary()
    } else {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(publish(gen, &a.opts)).map_err(|e| e.to_string())?
    };
    Ok(format!(r#"{{"radio":{},"heard":{},"publications":{}}}"#, summary.radio, summary.heard, summary.publications))
}
