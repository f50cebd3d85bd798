//! `decode_batch` (the in-place bulk path, `dlms::decode::decode_bulk`) gives the same
//! messages and OBIS tables as `decode_batch_tree` (every message decoded in full, APDU and
//! Data trees) on every real frame of `tests/vectors/dlms_bulk.json`, alone, corrupted, in a
//! mixed batch, and with the replay check.

use serde_json::Value;

use meterlink::dlms::decode::{DecodeOptions, Framing, Keys};
use meterlink::dlms::security::DlmsKeys;
use meterlink::hex::parse_hex;
use meterlink::replay::CounterStore;
use meterlink_arrow::dlms::{decode_batch, decode_batch_checked, decode_batch_tree, DlmsBatch, DlmsBatchOptions};
use meterlink_arrow::{FrameItem, Status};

struct Vector {
    name: String,
    framing: Framing,
    frame: Vec<u8>,
    keys: Keys,
}

fn vectors() -> Vec<Vector> {
    let v: Value = serde_json::from_str(include_str!("vectors/dlms_bulk.json")).unwrap();
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Vector {
            name: f["name"].as_str().unwrap().to_string(),
            framing: Framing::from_name(f["framing"].as_str().unwrap()).unwrap(),
            frame: parse_hex(f["frame"].as_str().unwrap()).unwrap(),
            keys: match f.get("keys") {
                Some(k) => Keys::Every(DlmsKeys::new(
                    parse_hex(k["ek"].as_str().unwrap()).unwrap(),
                    k["ak"].as_str().map(|a| parse_hex(a).unwrap()),
                )),
                None => Keys::None,
            },
        })
        .collect()
}

fn same(name: &str, fast: &DlmsBatch, tree: &DlmsBatch) {
    assert_eq!(fast.messages, tree.messages, "{name}: messages");
    assert_eq!(fast.obis, tree.obis, "{name}: obis");
    assert_eq!(fast.counts, tree.counts, "{name}: counts");
}

fn both(frames: &[Vec<u8>], keys: &Keys, o: &DlmsBatchOptions, name: &str) -> DlmsBatch {
    let items: Vec<FrameItem> = frames.iter().map(|f| FrameItem::Bytes(f)).collect();
    let fast = decode_batch(&items[..], keys, o, &[]).unwrap();
    let tree = decode_batch_tree(&items[..], keys, o, &[], None).unwrap();
    same(name, &fast, &tree);
    fast
}

#[test]
fn fast_and_tree_paths_give_the_same_tables() {
    let mut ciphered_ok = 0;
    for v in vectors() {
        for framing in [v.framing, Framing::Auto] {
            for strict in [false, true] {
                let o = DlmsBatchOptions { decode: DecodeOptions { framing, strict }, ..Default::default() };
                let b = both(std::slice::from_ref(&v.frame), &v.keys, &o, &v.name);
                ciphered_ok += usize::from(b.counts.get(Status::Ok) == 1 && !matches!(v.keys, Keys::None));
                both(std::slice::from_ref(&v.frame), &Keys::None, &o, &v.name);
            }
        }
    }
    assert!(ciphered_ok >= 4, "{ciphered_ok}");
}

#[test]
fn fast_and_tree_paths_agree_on_corrupted_frames() {
    for v in vectors() {
        let o = DlmsBatchOptions::with_framing(v.framing);
        let mut frames = Vec::new();
        for i in 0..v.frame.len() {
            let mut bad = v.frame.clone();
            bad[i] ^= 0x10;
            frames.push(bad);
            frames.push(v.frame[..i].to_vec());
        }
        both(&frames, &v.keys, &o, &v.name);
    }
}

#[test]
fn fast_and_tree_paths_agree_in_mixed_batches_with_replays() {
    for v in vectors().into_iter().filter(|v| !matches!(v.keys, Keys::None)) {
        // The frame three times (replays), with a clear and a broken one in between.
        let frames = vec![v.frame.clone(), v.frame[..v.frame.len() - 1].to_vec(), v.frame.clone(), v.frame.clone()];
        let items: Vec<FrameItem> = frames.iter().map(|f| FrameItem::Bytes(f)).collect();
        for threads in [Some(1), Some(2)] {
            let o = DlmsBatchOptions { chunk_rows: 2, threads, ..DlmsBatchOptions::with_framing(v.framing) };
            both(&frames, &v.keys, &o, &v.name);
            let (s1, s2) = (CounterStore::new(), CounterStore::new());
            let fast = decode_batch_checked(&items[..], &v.keys, &o, &[], Some(&s1)).unwrap();
            let tree = decode_batch_tree(&items[..], &v.keys, &o, &[], Some(&s2)).unwrap();
            same(&v.name, &fast, &tree);
        }
    }
}
