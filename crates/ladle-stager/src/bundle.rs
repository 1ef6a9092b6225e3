//! The OCI bundle (`config.json`) for one staging container.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ladle_contract::paths;
use serde_json::{json, Value};

use crate::config::StagingNetwork;

/// Host folders that make up the default stack, shared read-only.
pub(crate) const HOST_STACK_DIRS: [&str; 6] = ["/usr", "/bin", "/lib", "/lib64", "/etc", "/sbin"];
/// Mountpoints the container needs besides the stack folders.
const MOUNTPOINT_DIRS: [&str; 6] = ["proc", "dev", "sys", "tmp", "workspace", "home/vcap"];

pub(crate) struct BundleSpec<'a> {
    pub root: &'a Path,
    /// Read-only binds: the stack's folders, and the builder's libraries for a stack rootfs.
    pub stack_binds: Vec<Bind>,
    pub workspace: &'a Path,
    pub builder: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub memory_mb: u64,
    pub pids_limit: u64,
    pub nofile: u64,
    pub network: StagingNetwork,
    pub cgroups_path: &'a str,
}

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

/// A read-only bind mount: host path → path inside the container.
pub(crate) type Bind = (PathBuf, PathBuf);

/// Builds the container's own root: mountpoints, plus the stack's top-level folders bound
/// read-only (symlinks such as merged /usr's `/bin -> usr/bin` are copied as symlinks).
/// `entries` limits which top-level names are taken (the host-default stack takes only
/// /usr, /bin, /lib*, /etc, /sbin); `None` takes every one of a stack rootfs. Our own root
/// means runc never creates mountpoints inside the stack's folder.
pub(crate) fn stack_root(
    root: &Path,
    stack: &Path,
    entries: Option<&[&str]>,
) -> io::Result<Vec<Bind>> {
    for dir in MOUNTPOINT_DIRS {
        fs::create_dir_all(root.join(dir))?;
    }
    fs::create_dir_all(root.join("lifecycle"))?;
    fs::File::create(root.join("lifecycle/builder"))?;
    let names: Vec<String> = match entries {
        Some(list) => list
            .iter()
            .map(|n| n.trim_start_matches('/').to_string())
            .collect(),
        None => fs::read_dir(stack)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !OWN_TOP_LEVEL.contains(&n.as_str()))
            .collect(),
    };
    let mut binds = Vec::new();
    for name in names {
        let source = stack.join(&name);
        let inside = root.join(&name);
        match fs::symlink_metadata(&source) {
            Ok(meta) if meta.file_type().is_symlink() => {
                std::os::unix::fs::symlink(fs::read_link(&source)?, &inside)?
            }
            Ok(meta) if meta.is_dir() => {
                fs::create_dir(&inside)?;
                binds.push((source, Path::new("/").join(&name)));
            }
            _ => {}
        }
    }
    Ok(binds)
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
    let config = serde_json::to_vec_pretty(&config_json(spec)).map_err(io::Error::other)?;
    fs::write(bundle_dir.join("config.json"), config)
}

fn config_json(spec: &BundleSpec) -> Value {
    let no_caps: Vec<String> = Vec::new();
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": paths::STAGING_UID, "gid": paths::STAGING_GID, "additionalGids": []},
            "args": spec.args,
            "env": spec.env,
            "cwd": paths::HOME,
            "capabilities": {
                "bounding": no_caps, "effective": no_caps, "inheritable": no_caps,
                "permitted": no_caps, "ambient": no_caps
            },
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": spec.nofile, "soft": spec.nofile},
                {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}
            ],
            "noNewPrivileges": true
        },
        "root": {"path": spec.root, "readonly": true},
        "hostname": "staging",
        "mounts": mounts(spec),
        "linux": {
            "cgroupsPath": spec.cgroups_path,
            "resources": {
                "devices": [{"allow": false, "access": "rwm"}],
                // swap == limit: no swap on top of the memory limit (cgroup v1 memsw semantics).
                "memory": {"limit": spec.memory_mb * 1024 * 1024, "swap": spec.memory_mb * 1024 * 1024},
                "pids": {"limit": spec.pids_limit}
            },
            "namespaces": namespaces(spec.network),
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

fn namespaces(network: StagingNetwork) -> Value {
    let mut list = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if network == StagingNetwork::Off {
        // A new network namespace holds only a loopback interface that is down: no network.
        list.push(json!({"type": "network"}));
    }
    Value::Array(list)
}

fn mounts(spec: &BundleSpec) -> Value {
    let tmp_size = format!("size={}m", spec.memory_mb);
    let mut list = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]}),
        // tmpfs pages are charged to the container's memory cgroup, so /tmp cannot outgrow it.
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "nodev", "mode=1777", tmp_size]}),
    ];
    for (source, inside) in &spec.stack_binds {
        list.push(bind(source, inside, "ro"));
    }
    list.push(bind(spec.workspace, Path::new(paths::WORKSPACE), "rw"));
    list.push(bind(
        &spec.workspace.join("home"),
        Path::new(paths::HOME),
        "rw",
    ));
    list.push(bind(spec.builder, Path::new(paths::BUILDER), "ro"));
    Value::Array(list)
}

fn bind(source: &Path, destination: &Path, access: &str) -> Value {
    json!({"destination": destination, "type": "bind", "source": source,
           "options": ["bind", access, "nosuid", "nodev"]})
}
