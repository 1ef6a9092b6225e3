//! The staging container's own network: a network namespace per staging, outbound access
//! through `slirp4netns` (user-space TCP/IP: the container's packets become ordinary sockets of
//! a sandboxed host process), and an nftables filter inside the namespace that refuses what a
//! buildpack must never reach.
//!
//! Why slirp4netns (rather than pasta): it forwards no port into the host unless asked through
//! an API socket we never open, refuses the host's loopback on request
//! (`--disable-host-loopback`), sandboxes and seccomp-filters itself, has no IPv6 unless asked,
//! and exits by itself once our end of `--exit-fd` closes, so a crash of the server cannot
//! leave it running. pasta copies the host's addresses and routes into the namespace and
//! forwards ports both ways unless each default is turned off.
//!
//! slirp4netns itself connects wherever the container asks, so the deny list is enforced in
//! the namespace, on every packet leaving it (the nftables `output` hook), before the buildpack
//! starts. The buildpack runs as uid 2000 without capabilities and cannot change the rules;
//! routes alone would not do, since a socket bound to a device (`SO_BINDTODEVICE`, allowed
//! without privileges) skips a refusing route.

use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// slirp4netns's fixed layout of the namespace's network (its default `--cidr`).
const SLIRP_NETWORK: &str = "10.0.2.0/24";
/// slirp4netns answers DNS here and forwards it to the host's resolver.
pub(crate) const SLIRP_DNS: &str = "10.0.2.3";
/// How long slirp4netns may take to configure the namespace.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Never reachable from a staging, whatever `LADLE_STAGING_DENY_CIDRS` says: "this network",
/// loopback, link-local (cloud metadata services live at 169.254.169.254), multicast and
/// reserved space, slirp4netns's own network (its gateway is the host), and their IPv6
/// counterparts, IPv4-mapped addresses included.
const ALWAYS_DENIED: [&str; 10] = [
    "0.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/3",
    SLIRP_NETWORK,
    "::/127",
    "::ffff:0:0/96",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
];

/// The tools the outbound network needs, found once at start-up.
#[derive(Debug, Clone)]
pub(crate) struct NetworkTools {
    slirp4netns: PathBuf,
    nft: PathBuf,
    unshare: PathBuf,
}

impl NetworkTools {
    pub(crate) fn find() -> Result<NetworkTools, String> {
        let find = |name: &str, package: &str| {
            crate::config::find_on_path(name)
                .or_else(|| {
                    let sbin = Path::new("/usr/sbin").join(name);
                    crate::config::is_executable(&sbin).then_some(sbin)
                })
                .ok_or_else(|| format!("{name} is not on PATH (Debian package {package})"))
        };
        Ok(NetworkTools {
            slirp4netns: find("slirp4netns", "slirp4netns")?,
            nft: find("nft", "nftables")?,
            unshare: find("unshare", "util-linux")?,
        })
    }
}

/// A staging's network: its namespace (a bind mount at `netns_file`, removed with the
/// workspace) and the slirp4netns process serving it. Dropping it stops slirp4netns.
pub(crate) struct StagingNet {
    slirp: Child,
    /// slirp4netns exits when this closes.
    exit_writer: Option<OwnedFd>,
}

impl Drop for StagingNet {
    fn drop(&mut self) {
        self.exit_writer.take();
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if matches!(self.slirp.try_wait(), Ok(Some(_)) | Err(_)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.slirp.kill();
        let _ = self.slirp.wait();
    }
}

/// Creates the namespace at `netns_file` (an empty file), loads the deny rules into it, then
/// starts slirp4netns on it and waits until the namespace's interface is configured.
pub(crate) fn set_up(
    tools: &NetworkTools,
    netns_file: &Path,
    deny: &[IpNet],
    log_file: &Path,
) -> io::Result<StagingNet> {
    let rules = ruleset(deny, &host_addresses()?);
    create_namespace(netns_file, &tools.nft, &rules)?;
    start_slirp(tools, netns_file, log_file)
}

/// A fresh thread enters a new network namespace, pins it with a bind mount, and runs `nft`
/// there (a child process starts in its parent thread's namespace). The thread then ends, so
/// no thread of ours stays in the staging's namespace.
fn create_namespace(netns_file: &Path, nft: &Path, rules: &str) -> io::Result<()> {
    fs::File::create(netns_file)?;
    let netns_file = netns_file.to_path_buf();
    let nft = nft.to_path_buf();
    let rules = rules.to_string();
    std::thread::spawn(move || -> io::Result<()> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
        nix::mount::mount(
            Some("/proc/thread-self/ns/net"),
            &netns_file,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )?;
        load_rules(&nft, &rules)
    })
    .join()
    .map_err(|_| io::Error::other("the network namespace thread panicked"))?
}

fn load_rules(nft: &Path, rules: &str) -> io::Result<()> {
    let mut child = Command::new(nft)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(rules.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "nft refused the staging network rules ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

fn start_slirp(tools: &NetworkTools, netns_file: &Path, log_file: &Path) -> io::Result<StagingNet> {
    let (ready_reader, ready_writer) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (exit_reader, exit_writer) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    // slirp4netns gets its ends of the pipes by number. They lose close-on-exec just for the
    // spawn; a process another thread spawns meanwhile may inherit them, which is harmless: the
    // ready wait has a deadline, and slirp4netns exits when *our* end of the exit pipe closes.
    for fd in [&ready_writer, &exit_reader] {
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty()))?;
    }
    let log = fs::File::create(log_file)?;
    // slirp4netns's sandbox makes only `/` private in the mount namespace it creates, then
    // detaches the old root: the unmounts of every mount still shared with the host (such as
    // `/run/netns`, shared since the first `ip netns add`) would reach the host and take its
    // named network namespaces away. So it starts in a namespace of its own where every mount
    // is already private.
    let spawned = Command::new(&tools.unshare)
        .args(["--mount", "--propagation", "private", "--"])
        .arg(&tools.slirp4netns)
        .args([
            "--configure",
            "--mtu=65520",
            "--disable-host-loopback",
            "--enable-sandbox",
            "--enable-seccomp",
            "--netns-type=path",
        ])
        .arg(format!("--ready-fd={}", ready_writer.as_raw_fd()))
        .arg(format!("--exit-fd={}", exit_reader.as_raw_fd()))
        .arg(netns_file)
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn();
    drop(ready_writer);
    drop(exit_reader);
    let net = StagingNet {
        slirp: spawned?,
        exit_writer: Some(exit_writer),
    };
    match wait_ready(&ready_reader) {
        Ok(()) => Ok(net),
        Err(e) => {
            drop(net);
            let log = fs::read_to_string(log_file).unwrap_or_default();
            Err(io::Error::other(format!(
                "slirp4netns did not set up the staging network: {e}; it said: {}",
                log.trim()
            )))
        }
    }
}

/// slirp4netns writes "1" to the ready pipe once the namespace's interface is up.
fn wait_ready(reader: &OwnedFd) -> io::Result<()> {
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(reader),
        PollFlags::POLLIN,
    )];
    let millis = READY_TIMEOUT.as_millis() as u16;
    if poll(&mut fds, PollTimeout::from(millis))? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("not ready after {} s", READY_TIMEOUT.as_secs()),
        ));
    }
    let mut byte = [0u8; 1];
    match nix::unistd::read(reader.as_raw_fd(), &mut byte)? {
        1 if byte[0] == b'1' => Ok(()),
        _ => Err(io::Error::other("it exited before the network was ready")),
    }
}

/// Every address of the host's interfaces: slirp4netns would connect to them from the host.
fn host_addresses() -> io::Result<Vec<IpAddr>> {
    let mut addresses: Vec<IpAddr> = nix::ifaddrs::getifaddrs()?
        .filter_map(|ifaddr| ifaddr.address)
        .filter_map(|address| {
            if let Some(v4) = address.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect();
    addresses.sort();
    addresses.dedup();
    Ok(addresses)
}

/// The nftables ruleset for a staging's namespace: loopback inside the namespace and DNS to
/// slirp4netns pass; every denied destination is refused at once (a TCP reset or an ICMP
/// "administratively prohibited"), so a buildpack's connection fails fast instead of hanging.
pub(crate) fn ruleset(deny: &[IpNet], host_addresses: &[IpAddr]) -> String {
    let mut denied: Vec<IpNet> = ALWAYS_DENIED
        .iter()
        .map(|net| net.parse().expect("a valid built-in CIDR"))
        .chain(deny.iter().copied())
        .chain(host_addresses.iter().map(|a| IpNet::from(*a)))
        .collect();
    denied = IpNet::aggregate(&denied);
    let mut rules = String::from(
        "table inet ladle_staging {\n  chain output {\n    type filter hook output priority filter; policy accept;\n    oifname \"lo\" accept\n",
    );
    for proto in ["udp", "tcp"] {
        rules.push_str(&format!(
            "    ip daddr {SLIRP_DNS} {proto} dport 53 accept\n"
        ));
    }
    for net in denied {
        let family = if net.addr().is_ipv4() { "ip" } else { "ip6" };
        rules.push_str(&format!(
            "    {family} daddr {net} meta l4proto tcp reject with tcp reset\n    {family} daddr {net} reject with icmpx type admin-prohibited\n"
        ));
    }
    rules.push_str("  }\n}\n");
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_refuses_the_fixed_ranges_the_deny_list_and_the_host() {
        let deny: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "fc00::/7".parse().unwrap()];
        let host = ["192.0.2.7".parse().unwrap(), "127.0.0.1".parse().unwrap()];
        let rules = ruleset(&deny, &host);
        for expected in [
            "ip daddr 169.254.0.0/16 reject with icmpx type admin-prohibited",
            "ip daddr 127.0.0.0/8 meta l4proto tcp reject with tcp reset",
            "ip daddr 192.0.2.7/32 reject",
            "ip6 daddr fc00::/7 reject",
            // Link-local fe80::/10 and old site-local fec0::/10, merged.
            "ip6 daddr fe80::/9 reject",
            "ip daddr 10.0.2.3 udp dport 53 accept",
            "oifname \"lo\" accept",
        ] {
            assert!(
                rules.contains(expected),
                "{expected} missing from:\n{rules}"
            );
        }
        // slirp4netns's network lies inside 10/8: aggregated, not listed twice (nft refuses
        // overlapping elements in one set, and a second rule would be dead).
        assert!(!rules.contains("10.0.2.0/24"), "{rules}");
        assert!(!rules.contains("127.0.0.1/32"), "{rules}");
        let dns = rules.find("dport 53 accept").unwrap();
        let first_reject = rules.find("reject").unwrap();
        assert!(dns < first_reject, "DNS must pass before the refusals");
    }
}
