//! Slow, idle and too many clients, on raw sockets: a half-sent header, an idle kept-alive
//! connection, an upload that stalls, a download nobody reads, connections above the cap. A
//! request that takes long on the server's side (a followed staging log) is not cut off.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::packages::{guid_of, zip_bytes, AppFixture, Entry};
use crate::support::TestServer;

const REQUEST: &[u8] = b"GET /v3/info HTTP/1.1\r\nHost: ladle\r\n\r\n";

fn host_port(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_string()
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(host_port(server))
        .await
        .expect("connect")
}

/// Reads one response with a Content-Length body; returns its status line.
async fn read_response(stream: &mut TcpStream) -> String {
    let read = async {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            let n = stream.read(&mut byte).await.expect("read response");
            assert_eq!(n, 1, "connection closed mid-response: {head:?}");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .expect("content-length");
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.expect("body");
        head.lines().next().unwrap().to_string()
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a response within 10 s")
}

/// Waits until the server closes `stream` (end of file or a reset); how long that took.
async fn time_until_closed(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
        }
    }
}

/// Not closed for `window`: the read is still waiting when it ends.
async fn assert_still_open(stream: &mut TcpStream, window: Duration) {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(window, stream.read(&mut byte)).await {
        Err(_) => {}
        Ok(result) => panic!("the server answered or closed within {window:?}: {result:?}"),
    }
}

#[tokio::test]
async fn a_client_that_sends_half_a_header_is_disconnected_after_the_header_timeout() {
    let server = TestServer::start_with(&[
        ("LADLE_HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("LADLE_IDLE_TIMEOUT_SECONDS", "60"),
    ])
    .await;
    let mut half = connect(&server).await;
    half.write_all(b"GET /v3/info HTTP/1.1\r\nHost: la")
        .await
        .unwrap();
    let took = time_until_closed(&mut half, Duration::from_secs(10)).await;
    assert!(took >= Duration::from_millis(700), "closed after {took:?}");

    // Dribbling a byte now and then does not stretch the timeout: it counts from the start.
    let mut dribbler = connect(&server).await;
    let started = Instant::now();
    let closed = loop {
        if dribbler.write_all(b"X").await.is_err() {
            break started.elapsed();
        }
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(200), dribbler.read(&mut byte)).await {
            Err(_) => {}
            Ok(_) => break started.elapsed(),
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still open");
    };
    assert!(closed < Duration::from_secs(8), "closed after {closed:?}");

    // A client that connects and sends nothing is closed too.
    let mut silent = connect(&server).await;
    let took = time_until_closed(&mut silent, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(8), "closed after {took:?}");

    // Whole requests are served as before.
    let mut whole = connect(&server).await;
    whole.write_all(REQUEST).await.unwrap();
    assert_eq!(read_response(&mut whole).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(&[
        ("LADLE_HEADER_READ_TIMEOUT_SECONDS", "60"),
        ("LADLE_IDLE_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let mut stream = connect(&server).await;
    stream.write_all(REQUEST).await.unwrap();
    assert_eq!(read_response(&mut stream).await, "HTTP/1.1 200 OK");
    // Within the idle timeout the connection is reused.
    tokio::time::sleep(Duration::from_millis(400)).await;
    stream.write_all(REQUEST).await.unwrap();
    assert_eq!(read_response(&mut stream).await, "HTTP/1.1 200 OK");
    let took = time_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(10),
        "closed after {took:?}"
    );
}

#[tokio::test]
async fn an_upload_that_stalls_mid_body_is_cut_off_and_changes_nothing() {
    let server = TestServer::start_with(&[("LADLE_BODY_TIMEOUT_SECONDS", "1")]).await;
    let fx = AppFixture::create(&server).await;
    let package = fx.bits_package(&server).await;
    let boundary = "ladle-stall";
    let head = format!(
        "POST /v3/packages/{package}/upload HTTP/1.1\r\nHost: ladle\r\n\
         Authorization: bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: 1000000\r\n\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"bits\"; filename=\"app.zip\"\r\n\
         Content-Type: application/zip\r\n\r\nPK\u{3}\u{4}",
        fx.developer
    );
    let mut stream = connect(&server).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[0u8; 4096]).await.unwrap();
    // ... and nothing more.
    let took = time_until_closed(&mut stream, Duration::from_secs(15)).await;
    assert!(took < Duration::from_secs(8), "closed after {took:?}");
    let shown = server
        .get(&format!("/v3/packages/{package}"), &fx.developer)
        .await;
    assert_eq!(shown.body["state"], "AWAITING_UPLOAD", "{}", shown.text);
    let left = crate::packages::files_under(&server.data_dir.path().join("tmp"));
    assert!(left.is_empty(), "partial upload left: {left:?}");
    // The package still takes a whole upload.
    let bits = zip_bytes(&[Entry::File("index.html", b"hi")]);
    crate::packages::upload(
        &server,
        &format!("/v3/packages/{package}/upload"),
        &fx.developer,
        Some(bits),
        None,
    )
    .await
    .assert_status(200);
}

/// A zip of `size` bytes of noise, stored uncompressed.
fn noise_zip(size: usize) -> Vec<u8> {
    use std::io::Write;
    let noise: Vec<u8> = (0..size as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer.start_file("noise.bin", options).unwrap();
    writer.write_all(&noise).unwrap();
    writer.finish().unwrap().into_inner()
}

/// A connection whose receive buffer stays small, so a server writing to it stalls after a few
/// MiB instead of filling the loopback's large autotuned buffers.
async fn connect_with_small_receive_buffer(server: &TestServer) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket
        .connect(host_port(server).parse().unwrap())
        .await
        .expect("connect")
}

/// Reads a streamed (chunked) response to its end: `Ok(bytes received)` when it is complete,
/// `Err(bytes received)` when the server closes the connection first. Pauses `pause` after each of the first
/// `pauses` reads.
async fn read_download(
    stream: &mut TcpStream,
    pauses: usize,
    pause: Duration,
) -> Result<usize, usize> {
    let mut data = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut head_seen = false;
    let mut reads = 0;
    loop {
        // Downloads are streamed in chunks; the last chunk is empty.
        if head_seen && data.ends_with(b"\r\n0\r\n\r\n") {
            return Ok(data.len());
        }
        let n = match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(data.len()),
            Ok(Ok(n)) => n,
            Err(_) => panic!("the download stalled after {} bytes", data.len()),
        };
        data.extend_from_slice(&buf[..n]);
        if !head_seen {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).into_owned();
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                assert!(head.contains("transfer-encoding: chunked"), "{head}");
                head_seen = true;
            }
        }
        reads += 1;
        if reads <= pauses {
            tokio::time::sleep(pause).await;
        }
    }
}

#[tokio::test]
async fn a_download_nobody_reads_is_cut_off_after_the_send_timeout() {
    let server = TestServer::start_with(&[("LADLE_SEND_TIMEOUT_SECONDS", "2")]).await;
    let fx = AppFixture::create(&server).await;
    let package = fx.bits_package(&server).await;
    let bits = noise_zip(16 * 1024 * 1024);
    let size = bits.len();
    crate::packages::upload(
        &server,
        &format!("/v3/packages/{package}/upload"),
        &fx.developer,
        Some(bits),
        None,
    )
    .await
    .assert_status(200);
    let request = format!(
        "GET /v3/packages/{package}/download HTTP/1.1\r\nHost: ladle\r\nAuthorization: bearer {}\r\n\r\n",
        fx.developer
    );
    let mut stalled = connect_with_small_receive_buffer(&server).await;
    stalled.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    // What the socket buffers held is there to read; then the server has given up.
    match read_download(&mut stalled, 0, Duration::ZERO).await {
        Err(received) => assert!(received < size, "received {received} of {size} bytes"),
        Ok(length) => panic!("the whole download ({length} bytes) arrived"),
    }

    // A client that reads, with short pauses, gets it all.
    let mut pausing = connect(&server).await;
    pausing.write_all(request.as_bytes()).await.unwrap();
    let read = read_download(&mut pausing, 2, Duration::from_millis(300)).await;
    assert!(read.is_ok_and(|total| total > size), "{read:?}");
}

#[tokio::test]
async fn connections_above_the_cap_wait_until_one_closes() {
    let server = TestServer::start_with(&[
        ("LADLE_MAX_CONNECTIONS", "2"),
        ("LADLE_IDLE_TIMEOUT_SECONDS", "60"),
    ])
    .await;
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    for stream in [&mut first, &mut second] {
        stream.write_all(REQUEST).await.unwrap();
        assert_eq!(read_response(stream).await, "HTTP/1.1 200 OK");
    }
    let mut third = connect(&server).await;
    third.write_all(REQUEST).await.unwrap();
    assert_still_open(&mut third, Duration::from_millis(1500)).await;
    // The two within the cap are still served meanwhile.
    second.write_all(REQUEST).await.unwrap();
    assert_eq!(read_response(&mut second).await, "HTTP/1.1 200 OK");
    drop(first);
    assert_eq!(read_response(&mut third).await, "HTTP/1.1 200 OK");
}

/// The server's open sockets: the listener, the clients it accepted, database connections.
fn open_sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server's /proc entry")
        .flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn hundreds_of_half_sent_requests_hold_no_more_than_the_cap() {
    let server = TestServer::start_with(&[
        ("LADLE_MAX_CONNECTIONS", "50"),
        ("LADLE_HEADER_READ_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let pid = server.pid();
    let (sockets_before, rss_before) = (open_sockets(pid), rss_kib(pid));
    let mut half_sent = Vec::new();
    for _ in 0..400 {
        let mut stream = connect(&server).await;
        stream
            .write_all(b"GET /v3/info HTTP/1.1\r\nX-Padding: ")
            .await
            .unwrap();
        half_sent.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (sockets_during, rss_during) = (open_sockets(pid), rss_kib(pid));
    // 50 accepted, and a few database connections the staging slots may open meanwhile.
    assert!(
        sockets_during <= sockets_before + 50 + 8,
        "{sockets_before} open sockets before, {sockets_during} with 400 half-sent requests"
    );
    assert!(
        rss_during < rss_before + 20 * 1024,
        "RSS {rss_before} KiB before, {rss_during} KiB with 400 half-sent requests"
    );
    // They are cut off 50 at a time; a whole request sent after them is served in turn.
    let mut whole = connect(&server).await;
    whole.write_all(REQUEST).await.unwrap();
    let served = tokio::time::timeout(Duration::from_secs(60), read_response(&mut whole))
        .await
        .expect("served once the half-sent requests were cut off");
    assert_eq!(served, "HTTP/1.1 200 OK");
    drop(whole);
    let settled = Instant::now() + Duration::from_secs(10);
    while open_sockets(pid) > sockets_before + 8 && Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        open_sockets(pid) <= sockets_before + 8,
        "connections left open"
    );
    drop(half_sent);
}

#[tokio::test]
async fn a_followed_staging_log_outlives_every_timeout() {
    let server = TestServer::start_with(&[
        ("LADLE_HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("LADLE_IDLE_TIMEOUT_SECONDS", "1"),
        ("LADLE_BODY_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let slow = server.admin_buildpack("slow-pass", "slow-pass").await;
    let (_, package) = server.app_with_package("follow-dev", "plain").await;
    let token = server.user_token("follow-dev");
    let created = server
        .post(
            &format!("/v3/packages/{package}/droplets"),
            &token,
            json!({"buildpack_guid": slow}),
        )
        .await;
    created.assert_status(201);
    let droplet = guid_of(&created);
    let started = Instant::now();
    let followed = server
        .client
        .get(format!(
            "{}/v3/droplets/{droplet}/logs?follow=true",
            server.url
        ))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), 200);
    let text = followed.text().await.expect("the whole log");
    assert!(started.elapsed() > Duration::from_secs(2), "{text}");
    assert!(text.contains("slow-pass compiling"), "{text}");
    let shown = server.get(&format!("/v3/droplets/{droplet}"), &token).await;
    assert_eq!(shown.body["state"], "STAGED", "{}", shown.text);
}
