//! Stand-in hosts for the network tests, in network namespaces the test creates and removes:
//! an "outside" host on a public-looking address (198.51.100.0/24, TEST-NET-2) and a
//! "private" one on a 10.x address with a link-local address (169.254.77.x) beside it, each
//! joined to this host by a veth pair and routed from it. All traffic stays on this machine.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub struct TestNet {
    names: Vec<String>,
    /// This host's end of the outside host's link: one of the host's own addresses.
    pub host_address: Ipv4Addr,
    pub outside: Ipv4Addr,
    pub private: Ipv4Addr,
    pub link_local: Ipv4Addr,
}

impl TestNet {
    /// `tag` (a few letters or digits) keeps the names of parallel tests apart.
    pub fn new(tag: &str) -> TestNet {
        assert!(
            Path::new("/usr/sbin/ip").exists() || Path::new("/sbin/ip").exists(),
            "the network tests need `ip` (Debian package iproute2)"
        );
        // One /30 (and one link-local address) per test net of this process.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let k = ((std::process::id() + NEXT.fetch_add(1, Ordering::Relaxed)) % 60 + 1) as u8;
        let mut net = TestNet {
            names: Vec::new(),
            host_address: Ipv4Addr::new(198, 51, 100, 4 * k + 1),
            outside: Ipv4Addr::new(198, 51, 100, 4 * k + 2),
            private: Ipv4Addr::new(10, 213, k, 2),
            link_local: Ipv4Addr::new(169, 254, 77, k),
        };
        let outside = format!("lo{tag}");
        net.link(&outside, net.host_address, net.outside, 30);
        let private = format!("lp{tag}");
        net.link(&private, Ipv4Addr::new(10, 213, k, 1), net.private, 30);
        // The link-local address sits in the private host; this host routes just it there.
        ip(&[
            "-n",
            &private,
            "addr",
            "add",
            &format!("{}/32", net.link_local),
            "dev",
            &format!("n{private}"),
        ]);
        ip(&[
            "route",
            "add",
            &format!("{}/32", net.link_local),
            "dev",
            &format!("h{private}"),
        ]);
        net
    }

    /// Namespace `name`, with the pair `h<name>` (here, `host/prefix`) and `n<name>` (there,
    /// `peer/prefix`).
    fn link(&mut self, name: &str, host: Ipv4Addr, peer: Ipv4Addr, prefix: u8) {
        add_netns(name);
        self.names.push(name.to_string());
        let (here, there) = (format!("h{name}"), format!("n{name}"));
        ip(&["link", "add", &here, "type", "veth", "peer", "name", &there]);
        ip(&["link", "set", &there, "netns", name]);
        ip(&["addr", "add", &format!("{host}/{prefix}"), "dev", &here]);
        ip(&["link", "set", &here, "up"]);
        ip(&[
            "-n",
            name,
            "addr",
            "add",
            &format!("{peer}/{prefix}"),
            "dev",
            &there,
        ]);
        ip(&["-n", name, "link", "set", &there, "up"]);
        ip(&["-n", name, "link", "set", "lo", "up"]);
    }

    /// A TCP listener on all addresses inside namespace `lo<tag>` (outside) or `lp<tag>`
    /// (private): a socket belongs to the namespace it was created in.
    pub fn listen_in(&self, which: Which) -> TcpListener {
        let name = self.names[which as usize].clone();
        std::thread::spawn(move || {
            let ns = File::open(format!("/run/netns/{name}")).unwrap();
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            TcpListener::bind("0.0.0.0:0").unwrap()
        })
        .join()
        .unwrap()
    }
}

#[derive(Clone, Copy)]
pub enum Which {
    Outside = 0,
    Private = 1,
}

impl Drop for TestNet {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of each veth pair, and with it ours.
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Accepts connections on `listener` in the background, for at most `within`: each connection
/// gets `reply` and what it sent is passed on. Stops when the returned receiver is dropped
/// and the deadline passes.
pub fn serve(
    listener: TcpListener,
    reply: &'static str,
    within: Duration,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((mut conn, _)) => {
                    conn.set_nonblocking(false).unwrap();
                    conn.set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    let mut buf = [0u8; 1024];
                    let n = conn.read(&mut buf).unwrap_or(0);
                    let _ = conn.write_all(reply.as_bytes());
                    if tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                    {
                        return;
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    rx
}

/// Whether this host (the test, outside any staging) can open a TCP connection to `addr`.
pub fn reachable_from_here(addr: SocketAddr) -> bool {
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

/// `ip netns add`, one at a time: the first `ip netns add` on a machine bind-mounts `/run/netns`
/// onto itself, and two doing so at once stack two mounts, hiding the first namespace behind an
/// empty file (`ip -n` then fails with "Invalid argument").
fn add_netns(name: &str) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A run that was killed leaves its namespace and host-side link behind; one of the same
    // name would fail to be made.
    for stale in [["netns", "del", name], ["link", "del", &format!("h{name}")]] {
        let _ = std::process::Command::new("ip")
            .args(stale)
            .stderr(std::process::Stdio::null())
            .status();
    }
    ip(&["netns", "add", name]);
}
