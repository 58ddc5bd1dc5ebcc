//! `fetch` against a local, bounded HTTP server: verified files land, corrupt ones are deleted,
//! dead mirrors are skipped, offline gives a clear error, archives are extracted.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use adalab::data::{fetch_manifest, DataError, FetchEvent, FetchOptions, Manifest};
use sha2::{Digest, Sha256};

/// Serves `files` (path → body) on 127.0.0.1 for exactly `requests` connections, then stops.
fn serve(files: HashMap<String, Vec<u8>>, requests: usize) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        for _ in 0..requests {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let mut stream = reader.into_inner();
            let _ = match files.get(path) {
                Some(body) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| stream.write_all(body)),
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    (base, handle)
}

/// A base URL where nothing listens.
fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    drop(l);
    url
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn manifest(files: &[(&str, &[u8])]) -> Manifest {
    let mut text = String::from("name = \"fixture\"\nmirrors = [\"http://unused.invalid/\"]\n");
    for (name, bytes) in files {
        text += &format!(
            "[[files]]\nname = \"{name}\"\nsize = {}\nsha256 = \"{}\"\n",
            bytes.len(),
            sha256(bytes)
        );
    }
    Manifest::parse("fixture.toml", &text).unwrap()
}

fn opts(mirrors: Vec<String>) -> FetchOptions {
    FetchOptions {
        dest: None,
        mirrors: Some(mirrors),
        timeout: Some(Duration::from_secs(5)),
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn good_file_lands_corrupt_file_is_rejected() {
    let good: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
    let bad: Vec<u8> = vec![3; 1000];
    let mut corrupted = bad.clone();
    corrupted[500] ^= 0xff;
    let m = manifest(&[("good.bin", &good), ("bad.bin", &bad)]);
    let (base, server) = serve(
        HashMap::from([
            ("good.bin".to_string(), good.clone()),
            ("bad.bin".to_string(), corrupted.clone()),
        ]),
        2,
    );
    let dest = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    let err = fetch_manifest(&m, dest.path(), &opts(vec![base.clone()]), &mut |e| {
        events.push(e)
    })
    .unwrap_err();
    server.join().unwrap();

    assert_eq!(std::fs::read(dest.path().join("good.bin")).unwrap(), good);
    assert_eq!(
        leftovers(dest.path()),
        ["good.bin"],
        "no bad.bin nor .part may remain"
    );
    let msg = err.to_string();
    assert!(matches!(err, DataError::Checksum { .. }), "{msg}");
    assert!(
        msg.contains("bad.bin") && msg.contains("SHA-256 mismatch"),
        "{msg}"
    );
    assert!(
        msg.contains(&sha256(&bad)) && msg.contains(&sha256(&corrupted)),
        "{msg}"
    );
    assert!(msg.contains(&format!("{base}bad.bin")), "{msg}");
    assert!(events
        .iter()
        .any(|e| matches!(e, FetchEvent::Verified { file, .. } if file == "good.bin")));
    assert!(events.iter().any(|e| matches!(e, FetchEvent::Progress { file, done } if file == "good.bin" && *done == 50_000)));

    // A second fetch finds the good file present and does not download it again.
    let m = manifest(&[("good.bin", &good)]);
    let mut events = Vec::new();
    fetch_manifest(&m, dest.path(), &opts(vec![dead_url()]), &mut |e| {
        events.push(e)
    })
    .unwrap();
    assert_eq!(
        events,
        [FetchEvent::Present {
            file: "good.bin".into()
        }]
    );
}

#[test]
fn dead_mirror_then_working_one() {
    let body = b"hello mirror".to_vec();
    let m = manifest(&[("f.txt", &body)]);
    let (base, server) = serve(HashMap::from([("f.txt".to_string(), body.clone())]), 1);
    let dest = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    fetch_manifest(&m, dest.path(), &opts(vec![dead_url(), base]), &mut |e| {
        events.push(e)
    })
    .unwrap();
    server.join().unwrap();
    assert_eq!(std::fs::read(dest.path().join("f.txt")).unwrap(), body);
    assert_eq!(leftovers(dest.path()), ["f.txt"]);
    assert!(matches!(&events[0], FetchEvent::Failed { file, .. } if file == "f.txt"));
}

#[test]
fn offline_names_every_url() {
    let m = manifest(&[("f.txt", b"x")]);
    let (a, b) = (dead_url(), dead_url());
    let dest = tempfile::tempdir().unwrap();
    let e = fetch_manifest(
        &m,
        dest.path(),
        &opts(vec![a.clone(), b.clone()]),
        &mut |_| {},
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Download { .. }), "{msg}");
    assert!(msg.contains("could not download f.txt"), "{msg}");
    assert!(
        msg.contains(&format!("{a}f.txt")) && msg.contains(&format!("{b}f.txt")),
        "{msg}"
    );
    assert!(leftovers(dest.path()).is_empty());
}

#[test]
fn not_found_on_server_is_reported() {
    let m = manifest(&[("missing.bin", b"x")]);
    let (base, server) = serve(HashMap::new(), 1);
    let dest = tempfile::tempdir().unwrap();
    let msg = fetch_manifest(&m, dest.path(), &opts(vec![base]), &mut |_| {})
        .unwrap_err()
        .to_string();
    server.join().unwrap();
    assert!(msg.contains("missing.bin") && msg.contains("404"), "{msg}");
}

/// A tiny CIFAR-10 tarball (ustar, gzipped) is verified, extracted, loadable, and deleted.
#[test]
fn archive_is_extracted() {
    const REC: usize = 3073;
    let batch = |n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                std::iter::once((i % 10) as u8).chain(std::iter::repeat_n(i as u8, REC - 1))
            })
            .collect()
    };
    let names = [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
    ];
    // A real ustar archive, as the published one is (header checksums included).
    let mut builder = tar::Builder::new(Vec::new());
    for name in names {
        let body = batch(20);
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut h, format!("cifar-10-batches-bin/{name}"), &body[..])
            .unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();

    let mut text = format!(
        "name = \"cifar-fixture\"\nmirrors = [\"x\"]\n[[files]]\nname = \"c.tar.gz\"\nsize = {}\nsha256 = \"{}\"\nextract = \"tar.gz\"\n",
        gz.len(),
        sha256(&gz)
    );
    for name in names {
        text += &format!(
            "[[files.contents]]\nname = \"cifar-10-batches-bin/{name}\"\nsize = {}\n",
            20 * REC
        );
    }
    let m = Manifest::parse("cifar-fixture.toml", &text).unwrap();
    let (base, server) = serve(HashMap::from([("c.tar.gz".to_string(), gz)]), 1);
    let dest = tempfile::tempdir().unwrap();
    fetch_manifest(&m, dest.path(), &opts(vec![base]), &mut |_| {}).unwrap();
    server.join().unwrap();
    assert_eq!(leftovers(dest.path()), ["cifar-10-batches-bin"]);
    let ds = adalab::data::load_cifar10(dest.path()).unwrap();
    assert_eq!((ds.train.len(), ds.test.len()), (100, 20));
    let status = adalab::data::verify_files(&m, dest.path()).unwrap();
    assert!(
        status
            .iter()
            .all(|(_, s)| *s == adalab::data::FileStatus::Extracted),
        "{status:?}"
    );
}
