//! Hostile buildpacks against the runc sandbox: the network (outbound only, never the host,
//! link-local addresses or the deny list), the seccomp profile, and what of the host's files a
//! staging sees; plus ordinary buildpack work, which all of that must leave alone.
//! Needs root, runc, slirp4netns, nft and ip (see `common::require_runc`); ignored unless run
//! with `--include-ignored`, as `scripts/test.sh` does.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use common::*;
use ladle_stager::{ExecutorChoice, LogSink, Phase, Stager, StagingNetwork, Stream, VecSink};

/// "name: value" lines of a report file in the droplet.
fn report(droplet: &std::path::Path, file: &str) -> BTreeMap<String, String> {
    droplet_file(droplet, file)
        .unwrap_or_else(|| panic!("{file} missing from the droplet"))
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn require_network_tools() {
    for tool in ["slirp4netns", "nft", "ip"] {
        let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .any(|dir| std::path::Path::new(dir).join(tool).is_file());
        assert!(
            found,
            "{tool} is needed by the staging network and its tests (Debian: apt-get install slirp4netns nftables iproute2)"
        );
    }
}

/// Connects to 127.0.0.1:<port> on the host when the buildpack says it listens on that port
/// inside its container, and remembers whether that worked.
#[derive(Default)]
struct ListenWatch {
    sink: VecSink,
    host_connect: Mutex<Option<bool>>,
}

impl LogSink for ListenWatch {
    fn line(&self, phase: Phase, stream: Stream, text: &str) {
        if let Some(port) = text.strip_prefix("listening on port ") {
            let port: u16 = port.trim().parse().unwrap();
            let reached =
                TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
                    .is_ok();
            *self.host_connect.lock().unwrap() = Some(reached);
        }
        self.sink.line(phase, stream, text);
    }
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn network_on_reaches_outside_hosts_and_nothing_of_the_host_or_the_deny_list() {
    require_runc();
    require_network_tools();
    let scratch = Scratch::new();
    let net = TestNet::new(scratch.tag());
    let outside = net.listen_in(Which::Outside);
    let private = net.listen_in(Which::Private);
    let outside_addr = SocketAddr::from((net.outside, outside.local_addr().unwrap().port()));
    let private_port = private.local_addr().unwrap().port();
    let private_addr = SocketAddr::from((net.private, private_port));
    let link_local_addr = SocketAddr::from((net.link_local, private_port));
    // Listeners of the host itself: on its loopback, and on one of its own addresses.
    let host_loopback = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host_loopback_port = host_loopback.local_addr().unwrap().port();
    let host_own = std::net::TcpListener::bind((net.host_address, 0)).unwrap();
    let host_own_addr = host_own.local_addr().unwrap();
    // Every target answers the test itself: only the sandbox can keep a staging from them.
    for addr in [outside_addr, private_addr, link_local_addr, host_own_addr] {
        assert!(reachable_from_here(addr), "{addr} does not answer the test");
    }
    assert!(reachable_from_here(
        ([127, 0, 0, 1], host_loopback_port).into()
    ));
    let within = Duration::from_secs(120);
    let outside_heard = serve(outside, "hello-from-outside\n", within);
    let private_heard = serve(private, "", within);
    let host_heard = serve(host_loopback, "", within);
    let host_own_heard = serve(host_own, "", within);

    let probes = [
        ("outside", outside_addr.to_string()),
        ("host-loopback", format!("127.0.0.1:{host_loopback_port}")),
        ("slirp-host", format!("10.0.2.2:{host_loopback_port}")),
        ("host-address", host_own_addr.to_string()),
        ("private", private_addr.to_string()),
        ("link-local", link_local_addr.to_string()),
    ];
    let probe_env = probes
        .iter()
        .map(|(name, addr)| format!("{name}={addr}"))
        .collect::<Vec<_>>()
        .join(" ");
    let listen_port = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().port()
    };
    let staging = |guid: &'static str, deny_cidrs: Option<Vec<ipnet::IpNet>>| {
        let mut config = scratch.config(ExecutorChoice::Runc);
        assert_eq!(
            config.network,
            StagingNetwork::Outbound,
            "network is on by default"
        );
        if let Some(deny) = deny_cidrs {
            config.deny_cidrs = deny;
        }
        let stager = Stager::new(config).expect("stager with network on");
        let mut request = scratch.request(guid, "limit-network");
        request.environment.extend([
            ("LADLE_PROBES".to_string(), probe_env.clone()),
            ("LADLE_BOUND_PROBE".to_string(), host_own_addr.to_string()),
            ("LADLE_LISTEN_PORT".to_string(), listen_port.to_string()),
        ]);
        let scratch = &scratch;
        async move {
            let watch = ListenWatch::default();
            let outcome = stager.stage(request.clone(), &watch).await;
            scratch.assert_nothing_left(&request.staging_guid);
            let droplet = outcome
                .unwrap_or_else(|f| panic!("{f}\n{}", watch.sink.text()))
                .droplet;
            let seen = report(&droplet, "network-report");
            let host_connect = watch.host_connect.lock().unwrap().take();
            (seen, host_connect, watch.sink.text())
        }
    };

    let (seen, host_connect, log) = staging("net-on", None).await;
    let expected: BTreeMap<String, String> = [
        ("outside", "reached"),
        ("host-loopback", "refused"),
        ("slirp-host", "refused"),
        ("host-address", "refused"),
        ("private", "refused"),
        ("link-local", "refused"),
        ("bound-to-device", "refused"),
        ("interfaces", "lo tap0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(seen, expected, "log:\n{log}");
    assert_eq!(
        host_connect,
        Some(false),
        "a port the buildpack listens on must not open on the host's loopback\n{log}"
    );
    let heard: Vec<String> = outside_heard.try_iter().collect();
    assert!(
        heard.iter().any(|h| h == "hello-from-staging\n"),
        "the outside host heard {heard:?}"
    );
    for (name, heard) in [
        ("private", &private_heard),
        ("host loopback", &host_heard),
        ("host address", &host_own_heard),
    ] {
        let heard: Vec<String> = heard.try_iter().collect();
        assert!(
            !heard.iter().any(|h| h.contains("hello-from-staging")),
            "the {name} listener heard the staging: {heard:?}"
        );
    }

    // The deny list is what keeps the private host out: without it the staging gets there,
    // and link-local addresses and the host stay refused whatever the list says.
    let (seen, _, log) = staging("net-nodeny", Some(Vec::new())).await;
    assert_eq!(seen["private"], "reached", "log:\n{log}");
    assert_eq!(seen["outside"], "reached", "log:\n{log}");
    for refused in ["link-local", "host-address", "host-loopback", "slirp-host"] {
        assert_eq!(seen[refused], "refused", "{refused}; log:\n{log}");
    }
    assert!(private_heard
        .try_iter()
        .any(|h| h.contains("hello-from-staging")));
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn network_off_gives_the_staging_no_network() {
    require_runc();
    require_network_tools();
    let scratch = Scratch::new();
    let net = TestNet::new(scratch.tag());
    let outside = net.listen_in(Which::Outside);
    let outside_addr = SocketAddr::from((net.outside, outside.local_addr().unwrap().port()));
    assert!(reachable_from_here(outside_addr));
    let heard = serve(outside, "", Duration::from_secs(60));
    let mut config = scratch.config(ExecutorChoice::Runc);
    config.network = StagingNetwork::Off;
    let stager = Stager::new(config).unwrap();
    let mut request = scratch.request("net-off", "limit-network");
    request
        .environment
        .push(("LADLE_PROBES".into(), format!("outside={outside_addr}")));
    let (outcome, sink) = stage(&scratch, &stager, request).await;
    let droplet = outcome
        .unwrap_or_else(|f| panic!("{f}\n{}", sink.text()))
        .droplet;
    let seen = report(&droplet, "network-report");
    assert_eq!(seen["outside"], "refused", "{}", sink.text());
    assert_eq!(seen["interfaces"], "lo");
    assert!(!heard.try_iter().any(|h| h.contains("hello-from-staging")));
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn seccomp_refuses_namespaces_and_kernel_interfaces() {
    require_runc();
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "the syscall probes use x86_64's syscall table"
    );
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let (outcome, sink) = stage(
        &scratch,
        &stager,
        scratch.request("seccomp", "limit-syscalls"),
    )
    .await;
    let droplet = outcome
        .unwrap_or_else(|f| panic!("{f}\n{}", sink.text()))
        .droplet;
    let seen = report(&droplet, "syscall-report");
    let eperm = "errno 1";
    let expected: BTreeMap<String, String> = [
        // /proc/self/status: 2 is filter mode.
        ("Seccomp", "2"),
        ("unshare -Ur", "refused"),
        ("unshare-user", eperm),
        ("setns", eperm),
        ("bpf", eperm),
        ("keyctl", eperm),
        ("add_key", eperm),
        ("perf_event_open", eperm),
        ("userfaultfd", eperm),
        ("io_uring_setup", eperm),
        ("mount", eperm),
        ("fsopen", eperm),
        ("finit_module", eperm),
        ("reboot", eperm),
        // clone3's flags are out of the filter's sight: ENOSYS sends libc back to clone.
        ("clone3", "errno 38"),
        // A syscall through the 32-bit ABI kills the process (SIGSYS).
        ("int80-unshare", "killed"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(seen, expected, "log:\n{}", sink.text());
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn ordinary_buildpack_work_is_unaffected_by_the_sandbox() {
    require_runc();
    require_network_tools();
    let scratch = Scratch::new();
    let net = TestNet::new(scratch.tag());
    let outside = net.listen_in(Which::Outside);
    let url = format!(
        "http://{}:{}/hello",
        net.outside,
        outside.local_addr().unwrap().port()
    );
    let _heard = serve(
        outside,
        "HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\nfrom-outside\r\n",
        Duration::from_secs(120),
    );
    let stager = scratch.stager(ExecutorChoice::Runc);
    let mut request = scratch.request("ordinary", "ordinary-work");
    request
        .environment
        .push(("LADLE_OUTSIDE_URL".into(), url.clone()));
    let (outcome, sink) = stage(&scratch, &stager, request).await;
    let droplet = outcome
        .unwrap_or_else(|f| panic!("{f}\n{}", sink.text()))
        .droplet;
    let seen = report(&droplet, "ordinary-report");
    let expected: BTreeMap<String, String> = [
        ("git", "from-git"),
        ("tar", "from-git"),
        ("cc", "hello from a thread"),
        ("curl", "from-outside"),
        ("tmp", "writable"),
        ("user", "vcap"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(seen, expected, "log:\n{}", sink.text());
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn the_container_sees_none_of_the_hosts_files_nor_their_paths() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let (outcome, sink) = stage(
        &scratch,
        &stager,
        scratch.request("hostview", "limit-host-view"),
    )
    .await;
    let droplet = outcome
        .unwrap_or_else(|f| panic!("{f}\n{}", sink.text()))
        .droplet;
    let file = |name: &str| droplet_file(&droplet, name).unwrap_or_else(|| panic!("{name}"));
    // /etc is ours plus a few public files of the host's; nothing else of the host's /etc.
    let ours = [
        "group",
        "hostname",
        "hosts",
        "nsswitch.conf",
        "passwd",
        "resolv.conf",
    ];
    let host_public = [
        "alternatives",
        "ca-certificates",
        "ca-certificates.conf",
        "ld.so.cache",
        "ld.so.conf",
        "ld.so.conf.d",
        "localtime",
        "mime.types",
        "protocols",
        "services",
        "ssl",
        "timezone",
    ];
    for name in file("etc-listing").lines() {
        assert!(
            ours.contains(&name) || host_public.contains(&name),
            "the container's /etc has {name}"
        );
    }
    for name in ours {
        assert!(file("etc-listing").lines().any(|l| l == name), "{name}");
    }
    let passwd = file("passwd-seen");
    let host_passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert_ne!(passwd, host_passwd);
    assert!(passwd.contains("vcap:x:2000:2000:"), "{passwd}");
    // No /root, /home of the host, /var of the host, /run, /opt, /srv, /mnt, /media or /boot.
    let allowed_top = [
        "bin",
        "dev",
        "etc",
        "home",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "lifecycle",
        "proc",
        "sbin",
        "sys",
        "tmp",
        "usr",
        "var",
        "workspace",
    ];
    for name in file("root-listing").lines() {
        assert!(allowed_top.contains(&name), "the container's / has {name}");
    }
    // Neither the data dir's path nor any other path of ours shows in the mount table.
    let mountinfo = file("mountinfo-seen");
    let scratch_path = scratch.path().to_string_lossy().into_owned();
    assert!(
        !mountinfo.contains(&scratch_path),
        "the host path {scratch_path} shows in the container's mountinfo:\n{mountinfo}"
    );
    assert!(
        droplet_file(&droplet, "loop-backing-seen")
            .unwrap_or_default()
            .trim()
            .is_empty(),
        "loop devices' backing files are visible"
    );
    assert_eq!(file("tmp-seen").trim(), "tmp: writable 1777");
}

/// A shared mount of the host's with a mount below it, as `/run/netns` is once `ip netns add`
/// has run: a staging with network must leave both in place. slirp4netns's own sandbox once took
/// such mounts away from the host (its new mount namespace kept them shared, then detached the
/// old root).
#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn a_staging_with_network_leaves_the_hosts_shared_mounts_alone() {
    require_runc();
    require_network_tools();
    let scratch = Scratch::new();
    // Outside the scratch folder, which must hold no mount once the staging is done.
    let host_folder = tempfile::tempdir().unwrap();
    let shared = host_folder.path().join("shared");
    let below = shared.join("below");
    std::fs::create_dir_all(&below).unwrap();
    let mount = |args: &[&str]| {
        let status = std::process::Command::new("mount")
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "mount {args:?}");
    };
    let shared_arg = shared.to_str().unwrap();
    let below_arg = below.to_str().unwrap();
    mount(&["--bind", shared_arg, shared_arg]);
    mount(&["--make-shared", shared_arg]);
    mount(&["-t", "tmpfs", "tmpfs", below_arg]);
    let mounted = |path: &std::path::Path| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|line| line.split(' ').nth(4) == path.to_str())
    };
    assert!(mounted(&below), "the test's own mount is not there");

    let stager = scratch.stager(ExecutorChoice::Runc);
    let request = scratch.request("shared-mounts", "noop");
    let (outcome, sink) = stage(&scratch, &stager, request).await;
    let staged = mounted(&below);
    let _ = nix::mount::umount2(&below, nix::mount::MntFlags::MNT_DETACH);
    let _ = nix::mount::umount2(&shared, nix::mount::MntFlags::MNT_DETACH);
    outcome.unwrap_or_else(|f| panic!("{f}\n{}", sink.text()));
    assert!(staged, "the staging unmounted a mount of the host's");
}
