//! Publishing the generator's receptions to an MQTT broker, one client per run, topic
//! `<prefix>/gw-<n>` per gateway, QoS 0 or 1, at full speed or a fixed rate.

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use super::{gateway_name, Generator, Summary};
use crate::error::ServiceError;

/// Where and how to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishOptions {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Topic prefix (the service's default subscription is `telegrams/#`).
    pub prefix: String,
    /// 0 or 1.
    pub qos: u8,
    /// Publications per second (0 = as fast as the broker takes them).
    pub rate: f64,
    /// MQTT client id.
    pub client_id: String,
    /// Unacknowledged QoS 1 publications at most.
    pub inflight: u16,
    /// Stop after this many publications (0 = all): `limit = 1` publishes the run's first
    /// reception only, e.g. to probe that a subscriber is there before the run.
    pub limit: u64,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions { host: "127.0.0.1".into(), port: 1883, prefix: "telegrams".into(), qos: 1, rate: 0.0, client_id: "meterlink-loadgen".into(), inflight: 1000, limit: 0 }
    }
}

fn io_err(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Io(format!("loadgen {what}: {e}"))
}

/// Publish everything `gen` yields; returns when the broker has acknowledged every QoS 1
/// publication (or, for QoS 0, when all were written). The generator's [`Summary`] is returned.
pub async fn publish(mut gen: Generator, opts: &PublishOptions) -> Result<Summary, ServiceError> {
    let mut o = MqttOptions::new(opts.client_id.clone(), opts.host.clone(), opts.port);
    o.set_inflight(opts.inflight.max(1));
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(1 << 16, 1 << 16);
    let qos = if opts.qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
    let (client, mut ev) = AsyncClient::new(o, 1024);
    let topics: Vec<String> = (0..gen.cfg.gateways).map(|g| format!("{}/{}", opts.prefix, gateway_name(g))).collect();
    let (rate, limit) = (opts.rate, opts.limit);
    let producer = tokio::spawn(async move {
        let t0 = Instant::now();
        let mut sent = 0u64;
        for p in gen.by_ref() {
            client.publish(topics[p.gateway as usize].clone(), qos, false, p.payload).await.map_err(|e| io_err("publish", e))?;
            sent += 1;
            if sent == limit {
                break;
            }
            if rate > 0.0 && sent % 64 == 0 {
                let due = Duration::from_secs_f64(sent as f64 / rate);
                if let Some(wait) = due.checked_sub(t0.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        let mut summary = gen.summary();
        if limit > 0 {
            summary.publications = sent;
        }
        Ok::<_, ServiceError>((summary, client))
    });
    let mut acked = 0u64;
    let mut done: Option<(Summary, AsyncClient)> = None;
    let mut producer = Some(producer);
    loop {
        if let Some((s, _)) = &done {
            if qos == QoS::AtMostOnce || acked >= s.publications {
                break;
            }
        }
        tokio::select! {
            r = async { producer.as_mut().unwrap().await }, if producer.is_some() => {
                producer = None;
                done = Some(r.map_err(|e| io_err("task", e))??);
                if qos == QoS::AtMostOnce {
                    // Let the event loop write what is queued before disconnecting.
                    let (_, c) = done.as_ref().unwrap();
                    c.disconnect().await.map_err(|e| io_err("disconnect", e))?;
                }
            }
            e = tokio::time::timeout(Duration::from_secs(60), ev.poll()) => {
                match e.map_err(|_| io_err("broker", "no progress for 60 s"))? {
                    Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(e) => return Err(io_err("connection", e)),
                }
            }
        }
    }
    let (summary, client) = done.expect("loop ends after the producer");
    if qos == QoS::AtLeastOnce {
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), ev.poll()).await;
    }
    Ok(summary)
}
