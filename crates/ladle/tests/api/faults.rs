//! Nodes that die at a bad moment: an API node SIGKILLed while a package upload streams in, or
//! while it stores the received bits. Nothing half-received is kept, no package is READY
//! without its blob, and the client can upload again.

use std::io::Write;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::multipart::{Form, Part};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::packages::{files_under, guid_of, upload, zip_bytes, AppFixture, Entry};
use crate::support::TestServer;

/// A zip of about 8 MB that does not compress (a real app's bits mostly do not).
fn large_zip() -> Vec<u8> {
    let mut noise = vec![0u8; 8 * 1024 * 1024];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for byte in noise.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    zip_bytes(&[
        Entry::File("index.html", b"<h1>hello</h1>"),
        Entry::File("assets/noise.bin", &noise),
    ])
}

#[tokio::test]
async fn an_api_node_killed_mid_upload_keeps_no_bits_and_the_client_uploads_again() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let package_guid = fx.bits_package(&server).await;
    let path = format!("/v3/packages/{package_guid}/upload");
    let zip = large_zip();

    // The body goes out in 64 KiB chunks, slowly; once a quarter has gone the server is killed.
    let (quarter_sent, quarter_sent_rx) = tokio::sync::oneshot::channel::<()>();
    let chunks: Vec<bytes::Bytes> = zip
        .chunks(64 * 1024)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    let quarter = chunks.len() / 4;
    let mut quarter_sent = Some(quarter_sent);
    let body = futures::stream::iter(chunks.into_iter().enumerate()).then(move |(i, chunk)| {
        if i == quarter {
            if let Some(signal) = quarter_sent.take() {
                let _ = signal.send(());
            }
        }
        async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, std::io::Error>(chunk)
        }
    });
    let part = Part::stream(reqwest::Body::wrap_stream(body))
        .file_name("app.zip")
        .mime_str("application/zip")
        .unwrap();
    let form = Form::new().text("resources", "[]").part("bits", part);
    let request = server
        .client
        .post(format!("{}{path}", server.url))
        .bearer_auth(&fx.developer)
        .multipart(form)
        .send();
    let upload_task = tokio::spawn(request);

    tokio::time::timeout(Duration::from_secs(60), quarter_sent_rx)
        .await
        .expect("a quarter of the upload went out within 60 s")
        .expect("the upload stream signals");
    // The node is writing the bits it has received so far to its scratch dir.
    let scratch = server.data_dir.path().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !files_under(&scratch)
        .iter()
        .any(|file| file.metadata().is_ok_and(|meta| meta.len() > 0))
    {
        assert!(
            Instant::now() < deadline,
            "the node wrote none of the upload within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !upload_task.is_finished(),
        "the upload was answered before its body was sent"
    );
    let server = server.kill_and_restart(&[]).await;
    let interrupted = tokio::time::timeout(Duration::from_secs(60), upload_task)
        .await
        .expect("the interrupted upload ends within 60 s")
        .expect("upload task");
    assert!(
        interrupted.is_err(),
        "the killed node answered the upload: {interrupted:?}"
    );

    // Nothing of the half-sent bits is kept: no blob, the package still awaits its bits.
    let package = server
        .get(&format!("/v3/packages/{package_guid}"), &fx.developer)
        .await;
    package.assert_status(200);
    assert_eq!(package.body["state"], "AWAITING_UPLOAD", "{}", package.text);
    assert_eq!(
        server.blob(&format!("packages/{package_guid}")).await,
        None,
        "a blob was kept for bits that never finished arriving"
    );
    assert_eq!(
        files_under(&server.data_dir.path().join("tmp")),
        Vec::<std::path::PathBuf>::new(),
        "the restarted node cleared the half-received bits"
    );
    server
        .client
        .get(format!(
            "{}/v3/packages/{package_guid}/download",
            server.url
        ))
        .bearer_auth(&fx.developer)
        .send()
        .await
        .map(|response| assert_ne!(response.status(), 200, "no bits to download"))
        .expect("download request");

    // The client uploads again, to the same package, and gets every byte back.
    let retried = upload(&server, &path, &fx.developer, Some(zip.clone()), Some("[]")).await;
    retried.assert_status(200);
    assert_eq!(retried.body["state"], "READY", "{}", retried.text);
    assert_eq!(guid_of(&retried), package_guid);
    let kept = server.blob(&format!("packages/{package_guid}")).await;
    assert!(
        kept.as_deref() == Some(zip.as_slice()),
        "the retried bits are kept whole"
    );
    let download = server
        .client
        .get(format!(
            "{}/v3/packages/{package_guid}/download",
            server.url
        ))
        .bearer_auth(&fx.developer)
        .send()
        .await
        .expect("download");
    assert_eq!(download.status(), 200);
    assert!(download.bytes().await.expect("download body") == zip.as_slice());
}

/// A zip of `megabytes` MiB, stored uncompressed (so it is quick to make and as large on the
/// wire and in the blobstore as it says).
fn stored_zip(megabytes: usize) -> Vec<u8> {
    let block: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    writer.start_file("index.html", options).unwrap();
    writer.write_all(b"<h1>hello</h1>").unwrap();
    writer.start_file("assets/big.bin", options).unwrap();
    for _ in 0..megabytes {
        writer.write_all(&block).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

async fn package_state(server: &TestServer, token: &str, guid: &str) -> String {
    let package = server.get(&format!("/v3/packages/{guid}"), token).await;
    package.assert_status(200);
    package.body["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn an_api_node_killed_while_storing_an_upload_gives_the_package_back_after_a_lease() {
    // A short lease: the dead node's upload is given back within seconds.
    let lease = [("LADLE_JOB_LEASE_SECONDS", "2")];
    let server = TestServer::start_with(&lease).await;
    let fx = AppFixture::create(&server).await;
    let package_guid = fx.bits_package(&server).await;
    let path = format!("/v3/packages/{package_guid}/upload");
    // Large enough that storing it takes a while (about half a second on a local disk) after
    // it has all arrived.
    let zip = stored_zip(96);
    let part = Part::bytes(zip)
        .file_name("app.zip")
        .mime_str("application/zip")
        .unwrap();
    let request = server
        .client
        .post(format!("{}{path}", server.url))
        .bearer_auth(&fx.developer)
        .multipart(Form::new().part("bits", part))
        .send();
    let upload_task = tokio::spawn(request);

    // Once the bits have arrived and been checked, the node stores them: kill it then.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = package_state(&server, &fx.developer, &package_guid).await;
        if state == "PROCESSING_UPLOAD" {
            break;
        }
        assert_eq!(
            state, "AWAITING_UPLOAD",
            "the node stored the bits before the test could kill it (make the zip larger)"
        );
        assert!(
            Instant::now() < deadline,
            "the upload was not being stored within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server = server.kill_and_restart(&lease).await;
    let interrupted = tokio::time::timeout(Duration::from_secs(60), upload_task)
        .await
        .expect("the interrupted upload ends within 60 s")
        .expect("upload task");
    assert!(
        interrupted.is_err(),
        "the killed node answered the upload: {interrupted:?}"
    );

    // Nobody renews the dead upload's heartbeat: the sweep gives the package back to the client
    // within two leases (one for the heartbeat to go stale, one between sweeps).
    let killed = Instant::now();
    loop {
        let state = package_state(&server, &fx.developer, &package_guid).await;
        if state == "AWAITING_UPLOAD" {
            break;
        }
        assert_eq!(
            state, "PROCESSING_UPLOAD",
            "never READY without the whole blob"
        );
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "the dead node's upload was not given back within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let download = server
        .client
        .get(format!(
            "{}/v3/packages/{package_guid}/download",
            server.url
        ))
        .bearer_auth(&fx.developer)
        .send()
        .await
        .expect("download request");
    assert_ne!(download.status(), 200, "no bits to download yet");

    // The client uploads again, to the same package: its new bits, whole, replace whatever the
    // dead node stored.
    let retried_zip = large_zip();
    let retried = upload(
        &server,
        &path,
        &fx.developer,
        Some(retried_zip.clone()),
        Some("[]"),
    )
    .await;
    retried.assert_status(200);
    assert_eq!(retried.body["state"], "READY", "{}", retried.text);
    assert_eq!(guid_of(&retried), package_guid);
    assert_eq!(
        retried.body["data"]["checksum"],
        json!({"type": "sha256", "value": hex::encode(Sha256::digest(&retried_zip))})
    );
    let download = server
        .client
        .get(format!(
            "{}/v3/packages/{package_guid}/download",
            server.url
        ))
        .bearer_auth(&fx.developer)
        .send()
        .await
        .expect("download");
    assert_eq!(download.status(), 200);
    assert!(download.bytes().await.expect("download body") == retried_zip.as_slice());
    // The sweep leaves a READY package alone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        package_state(&server, &fx.developer, &package_guid).await,
        "READY"
    );
}
