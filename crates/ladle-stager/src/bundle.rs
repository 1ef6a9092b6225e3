//! The OCI bundle (`config.json`) for one staging container, and the container's own root.
//!
//! The root is a small tmpfs of ours (so no host path shows in the container's mountinfo):
//! mountpoints, our own `/etc`, and the stack's folders bound read-only. For the host-default
//! stack that is the host's /usr, /bin, /sbin and /lib*, plus a short list of public,
//! program-facing files from the host's /etc (library cache, CA certificates, alternatives);
//! the rest of the host's /etc, /root, /home, /var and the data dir are not there.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ladle_contract::paths;
use oci_spec::runtime::{
    Capabilities, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder, LinuxNamespace,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, Mount,
    MountBuilder, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec,
    SpecBuilder, UserBuilder,
};
use oci_spec::OciSpecError;

use crate::network::SLIRP_DNS;
use crate::seccomp;

/// Host folders that make up the default stack, shared read-only (those that exist).
pub(crate) const HOST_STACK_DIRS: [&str; 7] =
    ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];
/// What of the host's /etc programs of the default stack need to run, and nothing private:
/// the library cache, CA certificates and OpenSSL's configuration, Debian's alternatives
/// (`cc`, `awk`, `java` are links through /etc/alternatives), time zone and protocol tables.
const HOST_ETC_ENTRIES: [&str; 13] = [
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
    "ssl/certs",
    "ssl/openssl.cnf",
    "timezone",
];
/// Mountpoints the container needs besides the stack folders.
const MOUNTPOINT_DIRS: [&str; 6] = ["proc", "dev", "sys", "tmp", "workspace", "home/vcap"];
/// Top-level folders of a stack root filesystem that the container gets from us instead.
const OWN_TOP_LEVEL: [&str; 7] = [
    "proc",
    "dev",
    "sys",
    "tmp",
    "workspace",
    "home",
    "lifecycle",
];
/// Where in the container's root our resolv.conf for a stack root filesystem lives; it is
/// bound over the stack's own.
const STACK_RESOLV_CONF: &str = "lifecycle/resolv.conf";
/// Host paths under /sys that name the staging's disk image (and other stagings'): a loop
/// device's `backing_file`.
const MASKED_SYS_PATHS: [&str; 4] = [
    "/sys/block",
    "/sys/class/block",
    "/sys/dev/block",
    "/sys/devices/virtual/block",
];

/// A read-only bind mount: host path → path inside the container.
pub(crate) type Bind = (PathBuf, PathBuf);

/// The container's network namespace.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NetNamespace<'a> {
    /// One the stager has prepared (pinned at this path), with outbound access.
    Prepared(&'a Path),
    /// A fresh, empty one: no network at all.
    Empty,
}

pub(crate) struct BundleSpec<'a> {
    pub root: &'a Path,
    /// Read-only binds: the stack's folders, the builder's libraries, files of /etc.
    pub binds: Vec<Bind>,
    pub workspace: &'a Path,
    /// Cached admin buildpacks, bound read-only over their folders in the workspace (so after
    /// it): host folder → path inside the container.
    pub buildpacks: Vec<Bind>,
    pub builder: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub memory_mb: u64,
    pub pids_limit: u64,
    pub nofile: u64,
    pub network: NetNamespace<'a>,
    pub cgroups_path: &'a str,
}

/// Fills the container's root for the host-default stack: mountpoints, our /etc with the
/// host's allowed entries bound into it, and the host's stack folders.
pub(crate) fn host_default_root(root: &Path, dns: bool) -> io::Result<Vec<Bind>> {
    create_mountpoints(root)?;
    let mut binds = Vec::new();
    for name in HOST_STACK_DIRS {
        add_entry(root, Path::new("/"), name, &mut binds)?;
    }
    write_own_etc(&root.join("etc"), dns)?;
    for name in HOST_ETC_ENTRIES {
        add_entry(root, Path::new("/"), &format!("etc/{name}"), &mut binds)?;
    }
    fs::create_dir_all(root.join("var"))?;
    std::os::unix::fs::symlink("/tmp", root.join("var/tmp"))?;
    Ok(binds)
}

/// Fills the container's root for a stack root filesystem: mountpoints and every top-level
/// entry of the stack, bound read-only, so runc never creates mountpoints inside the stack's
/// folder. With `dns`, our resolv.conf is bound over the stack's when the stack has one.
pub(crate) fn stack_root(root: &Path, stack: &Path, dns: bool) -> io::Result<Vec<Bind>> {
    create_mountpoints(root)?;
    let mut binds = Vec::new();
    for entry in fs::read_dir(stack)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !OWN_TOP_LEVEL.contains(&name.as_str()) {
            add_entry(root, stack, &name, &mut binds)?;
        }
    }
    if dns {
        let ours = root.join(STACK_RESOLV_CONF);
        fs::write(&ours, resolv_conf(dns))?;
        // A mountpoint cannot be created in the stack's read-only /etc: only a stack that
        // has the file gets ours over it.
        let theirs = stack.join("etc/resolv.conf");
        if fs::symlink_metadata(&theirs).is_ok_and(|m| m.is_file()) {
            binds.push((ours, PathBuf::from("/etc/resolv.conf")));
        } else {
            tracing::warn!(stack = %stack.display(), "the stack has no /etc/resolv.conf file; staging keeps the stack's DNS settings");
        }
    }
    Ok(binds)
}

fn create_mountpoints(root: &Path) -> io::Result<()> {
    for dir in MOUNTPOINT_DIRS {
        fs::create_dir_all(root.join(dir))?;
    }
    // runc gives a tmpfs the mode of its mountpoint, whatever the mount's `mode=` says.
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::create_dir_all(root.join("lifecycle"))?;
    fs::File::create(root.join("lifecycle/builder"))?;
    Ok(())
}

/// Gives every folder and file of the container's own root the modes a root filesystem has
/// (folders `rwxr-xr-x`, files `rw-r--r--`, `/tmp` keeps its sticky `rwxrwxrwx`). The root is
/// built under the server's umask, which keeps the server's own files private; what is in it
/// is there for the staging user to read. Mountpoints get the modes of what is mounted on them.
pub(crate) fn open_to_staging_user(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            continue;
        }
        let path = entry.path();
        let mode = entry.metadata()?.permissions().mode() & 0o7777;
        let open = mode | if kind.is_dir() { 0o755 } else { 0o644 };
        if open != mode {
            fs::set_permissions(&path, fs::Permissions::from_mode(open))?;
        }
        if kind.is_dir() {
            open_to_staging_user(&path)?;
        }
    }
    Ok(())
}

/// Takes `name` (a relative path) of `source_root` into the container's root: a folder or
/// file as a read-only bind on a mountpoint we create, a symlink (merged /usr's `/bin ->
/// usr/bin`) as a copy of the link. A missing entry is skipped.
fn add_entry(root: &Path, source_root: &Path, name: &str, binds: &mut Vec<Bind>) -> io::Result<()> {
    let source = source_root.join(name);
    let inside = root.join(name);
    let Ok(meta) = fs::symlink_metadata(&source) else {
        return Ok(());
    };
    if let Some(parent) = inside.parent() {
        fs::create_dir_all(parent)?;
    }
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(&source)?, &inside)?;
        return Ok(());
    }
    if meta.is_dir() {
        fs::create_dir(&inside)?;
    } else if meta.is_file() {
        fs::File::create(&inside)?;
    } else {
        return Ok(());
    }
    binds.push((source, Path::new("/").join(name)));
    Ok(())
}

/// The staging user and a name resolution that stays inside the container, plus slirp4netns's
/// DNS when the staging has network.
fn write_own_etc(etc: &Path, dns: bool) -> io::Result<()> {
    fs::create_dir_all(etc)?;
    let (uid, gid) = (paths::STAGING_UID, paths::STAGING_GID);
    let files = [
        (
            "passwd",
            format!(
                "root:x:0:0:root:/root:/bin/sh\nvcap:x:{uid}:{gid}:vcap:{}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                paths::HOME
            ),
        ),
        (
            "group",
            format!("root:x:0:\nvcap:x:{gid}:\nnogroup:x:65534:\n"),
        ),
        (
            "hosts",
            "127.0.0.1\tlocalhost staging\n::1\tlocalhost ip6-localhost ip6-loopback\n".into(),
        ),
        ("hostname", "staging\n".into()),
        ("resolv.conf", resolv_conf(dns)),
        (
            "nsswitch.conf",
            "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n".into(),
        ),
    ];
    for (name, text) in files {
        fs::write(etc.join(name), text)?;
    }
    Ok(())
}

fn resolv_conf(dns: bool) -> String {
    if dns {
        format!("nameserver {SLIRP_DNS}\n")
    } else {
        String::new()
    }
}

/// Mount targets for the builder's shared libraries in `/lifecycle/lib` (see `builder_libs`).
pub(crate) fn builder_lib_binds(root: &Path, files: &[PathBuf]) -> io::Result<Vec<Bind>> {
    let lib_dir = root.join(paths::BUILDER_LIB_DIR.trim_start_matches('/'));
    fs::create_dir_all(&lib_dir)?;
    let mut binds = Vec::new();
    for file in files {
        let Some(name) = file.file_name() else {
            continue;
        };
        fs::File::create(lib_dir.join(name))?;
        binds.push((
            fs::canonicalize(file)?,
            Path::new(paths::BUILDER_LIB_DIR).join(name),
        ));
    }
    Ok(binds)
}

pub(crate) fn write_config(bundle_dir: &Path, spec: &BundleSpec) -> io::Result<()> {
    fs::create_dir_all(bundle_dir)?;
    let config = config(spec).map_err(io::Error::other)?;
    let json = serde_json::to_vec_pretty(&config).map_err(io::Error::other)?;
    fs::write(bundle_dir.join("config.json"), json)
}

fn config(spec: &BundleSpec) -> Result<Spec, OciSpecError> {
    let no_caps = Capabilities::new();
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(
            UserBuilder::default()
                .uid(paths::STAGING_UID)
                .gid(paths::STAGING_GID)
                .additional_gids(Vec::<u32>::new())
                // What buildpacks create is readable by others, as on Cloud Foundry, not private
                // as the server's own files are.
                .umask(0o022u32)
                .build()?,
        )
        .args(spec.args.clone())
        .env(spec.env.clone())
        .cwd(paths::HOME)
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(no_caps.clone())
                .effective(no_caps.clone())
                .inheritable(no_caps.clone())
                .permitted(no_caps.clone())
                .ambient(no_caps)
                .build()?,
        )
        .rlimits(vec![
            rlimit(PosixRlimitType::RlimitNofile, spec.nofile)?,
            rlimit(PosixRlimitType::RlimitCore, 0)?,
        ])
        .no_new_privileges(true)
        .build()?;
    let resources = LinuxResourcesBuilder::default()
        .devices(vec![LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()?])
        // The memory limit is on the staging's parent cgroup (`runc_cgroup`), where the kernel
        // reports running out of it on cgroup v1 too.
        .pids(
            LinuxPidsBuilder::default()
                .limit(spec.pids_limit as i64)
                .build()?,
        )
        .build()?;
    let mut masked_paths = oci_spec::runtime::get_default_maskedpaths();
    masked_paths.extend(MASKED_SYS_PATHS.iter().map(|p| p.to_string()));
    let linux = LinuxBuilder::default()
        .cgroups_path(PathBuf::from(spec.cgroups_path))
        .resources(resources)
        .namespaces(namespaces(spec.network)?)
        .seccomp(seccomp::staging_profile()?)
        .masked_paths(masked_paths)
        .readonly_paths(oci_spec::runtime::get_default_readonly_paths())
        .build()?;
    SpecBuilder::default()
        .version("1.0.2")
        .process(process)
        .root(
            RootBuilder::default()
                .path(spec.root)
                .readonly(true)
                .build()?,
        )
        .hostname("staging")
        .mounts(mounts(spec)?)
        .linux(linux)
        .build()
}

fn rlimit(
    typ: PosixRlimitType,
    limit: u64,
) -> Result<oci_spec::runtime::PosixRlimit, OciSpecError> {
    PosixRlimitBuilder::default()
        .typ(typ)
        .hard(limit)
        .soft(limit)
        .build()
}

fn namespaces(network: NetNamespace) -> Result<Vec<LinuxNamespace>, OciSpecError> {
    let fresh = |typ| LinuxNamespaceBuilder::default().typ(typ).build();
    let mut list = vec![
        fresh(LinuxNamespaceType::Pid)?,
        fresh(LinuxNamespaceType::Ipc)?,
        fresh(LinuxNamespaceType::Uts)?,
        fresh(LinuxNamespaceType::Mount)?,
        // /proc/self/cgroup shows "/" rather than the host's cgroup layout.
        fresh(LinuxNamespaceType::Cgroup)?,
    ];
    list.push(match network {
        NetNamespace::Prepared(path) => LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Network)
            .path(path)
            .build()?,
        // A new network namespace holds only a loopback interface that is down.
        NetNamespace::Empty => fresh(LinuxNamespaceType::Network)?,
    });
    Ok(list)
}

fn mounts(spec: &BundleSpec) -> Result<Vec<Mount>, OciSpecError> {
    let special = |destination: &str, typ: &str, source: &str, options: &[&str]| {
        MountBuilder::default()
            .destination(destination)
            .typ(typ)
            .source(source)
            .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
            .build()
    };
    let tmp_size = format!("size={}m", spec.memory_mb);
    let mut list = vec![
        special("/proc", "proc", "proc", &[])?,
        special(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        special(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
            ],
        )?,
        special(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        special(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        special(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        // tmpfs pages are charged to the container's memory cgroup, so /tmp cannot outgrow it.
        special(
            "/tmp",
            "tmpfs",
            "tmpfs",
            &["nosuid", "nodev", "mode=1777", &tmp_size],
        )?,
    ];
    for (source, inside) in &spec.binds {
        list.push(bind(source, inside, "ro")?);
    }
    list.push(bind(spec.workspace, Path::new(paths::WORKSPACE), "rw")?);
    for (source, inside) in &spec.buildpacks {
        list.push(bind(source, inside, "ro")?);
    }
    list.push(bind(
        &spec.workspace.join("home"),
        Path::new(paths::HOME),
        "rw",
    )?);
    list.push(bind(spec.builder, Path::new(paths::BUILDER), "ro")?);
    Ok(list)
}

fn bind(source: &Path, destination: &Path, access: &str) -> Result<Mount, OciSpecError> {
    MountBuilder::default()
        .destination(destination)
        .typ("bind")
        .source(source)
        .options(
            ["bind", access, "nosuid", "nodev"]
                .iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(root: &'a Path, network: NetNamespace<'a>) -> BundleSpec<'a> {
        BundleSpec {
            root,
            binds: vec![(PathBuf::from("/usr"), PathBuf::from("/usr"))],
            workspace: Path::new("/w/ws"),
            buildpacks: vec![(
                PathBuf::from("/w/buildpacks/abc"),
                PathBuf::from("/workspace/buildpacks/0123456789abcdef"),
            )],
            builder: Path::new("/b/ladle-builder"),
            args: vec!["/lifecycle/builder".into()],
            env: vec!["HOME=/home/vcap".into()],
            memory_mb: 256,
            pids_limit: 1024,
            nofile: ladle_contract::FILE_DESCRIPTOR_LIMIT,
            network,
            cgroups_path: "/ladle/x",
        }
    }

    #[test]
    fn config_json_has_what_runc_needs() {
        let root = Path::new("/w/root");
        let json = serde_json::to_value(
            config(&spec(root, NetNamespace::Prepared(Path::new("/w/netns")))).unwrap(),
        )
        .unwrap();
        assert_eq!(json["ociVersion"], "1.0.2");
        assert_eq!(json["process"]["user"]["uid"], 2000);
        assert_eq!(json["process"]["noNewPrivileges"], true);
        assert_eq!(
            json["process"]["capabilities"]["bounding"],
            serde_json::json!([])
        );
        assert_eq!(json["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
        assert_eq!(json["root"]["readonly"], true);
        assert!(json["linux"]["resources"].get("memory").is_none());
        assert_eq!(json["linux"]["resources"]["pids"]["limit"], 1024);
        assert_eq!(json["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        let namespaces = json["linux"]["namespaces"].as_array().unwrap();
        let network = namespaces.iter().find(|n| n["type"] == "network").unwrap();
        assert_eq!(network["path"], "/w/netns");
        assert!(json["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .contains(&"/sys/devices/virtual/block".into()));
        let tmp = json["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/tmp")
            .unwrap();
        assert!(tmp["options"]
            .as_array()
            .unwrap()
            .contains(&"mode=1777".into()));
        // A cached buildpack is bound read-only, after (so over) the workspace.
        let mounts = json["mounts"].as_array().unwrap();
        let at = |destination: &str| {
            mounts
                .iter()
                .position(|m| m["destination"] == destination)
                .unwrap()
        };
        let buildpack = &mounts[at("/workspace/buildpacks/0123456789abcdef")];
        assert!(at("/workspace") < at("/workspace/buildpacks/0123456789abcdef"));
        assert!(buildpack["options"]
            .as_array()
            .unwrap()
            .contains(&"ro".into()));

        let json = serde_json::to_value(config(&spec(root, NetNamespace::Empty)).unwrap()).unwrap();
        let namespaces = json["linux"]["namespaces"].as_array().unwrap();
        let network = namespaces.iter().find(|n| n["type"] == "network").unwrap();
        assert!(network.get("path").is_none());
    }

    #[test]
    fn host_default_root_has_our_etc_and_none_of_the_hosts_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let binds = host_default_root(root, true).unwrap();
        let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert!(
            passwd.contains("vcap:x:2000:2000:vcap:/home/vcap:"),
            "{passwd}"
        );
        assert_eq!(
            fs::read_to_string(root.join("etc/resolv.conf")).unwrap(),
            "nameserver 10.0.2.3\n"
        );
        for (source, _) in &binds {
            let allowed = HOST_STACK_DIRS
                .iter()
                .any(|d| source == &Path::new("/").join(d))
                || HOST_ETC_ENTRIES
                    .iter()
                    .any(|e| source == &Path::new("/etc").join(e));
            assert!(allowed, "{} is bound", source.display());
        }
        assert!(!binds.iter().any(|(s, _)| s == Path::new("/etc")));
        assert!(binds.iter().any(|(s, _)| s == Path::new("/usr")));
    }
}
