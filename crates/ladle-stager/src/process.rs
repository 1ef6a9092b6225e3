//! Running the builder as a plain child process of the host, for machines where runc cannot be
//! used and the operator asked for it (`LADLE_STAGER=process`). Needs root.
//!
//! The builder runs as the staging user in a session and a cgroup v2 of its own; when the
//! staging ends, however it ends, `cgroup.kill` takes every process it started, daemons
//! included. Limits are best-effort: rlimits apply per process (RLIMIT_DATA for memory,
//! RLIMIT_NPROC counting every process of the staging user), disk is a loop-mounted ext4 image.
//! There is no network isolation, no private root filesystem and no seccomp filter: the
//! buildpack sees the host as any local user does.

use std::os::fd::RawFd;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ladle_contract::paths;
use nix::sys::resource::{setrlimit, Resource};
use nix::unistd::{Gid, Uid};

use crate::log::LogSink;
use crate::process_cgroup::{kill_all, StagingCgroup};
use crate::supervise::{supervise, DiskWatch, Supervised};

pub(crate) struct ProcessLimits {
    pub memory_mb: u64,
    pub nofile: u64,
    pub nproc: u64,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_process(
    builder: &Path,
    args: &[String],
    env: &[(String, String)],
    home: &Path,
    limits: &ProcessLimits,
    cgroup: &StagingCgroup,
    timeout: Duration,
    watch: &mut DiskWatch,
    sink: &dyn LogSink,
) -> std::io::Result<Supervised> {
    let procs = cgroup
        .procs_fd()
        .ok_or_else(|| std::io::Error::other("the staging cgroup is not open"))?;
    let mut command = tokio::process::Command::new(builder);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    enter_sandbox(&mut command, limits, procs);
    let mut child = command.spawn()?;
    let kill = || {
        let dir = cgroup.dir().to_path_buf();
        async move {
            let _ = tokio::task::spawn_blocking(move || kill_all(&dir)).await;
        }
    };
    // Whatever the buildpacks leave running in the background ends when the caller drops the
    // cgroup, on a blocking thread.
    supervise(&mut child, timeout, watch, sink, kill).await
}

/// Between fork and exec, in this order: join the staging's cgroup (so nothing the builder
/// starts can be outside it), start a new session, set the rlimits and the umask Cloud
/// Foundry's containers have (022, not the server's private 077), drop to the staging user.
fn enter_sandbox(command: &mut tokio::process::Command, limits: &ProcessLimits, procs: RawFd) {
    let memory = limits.memory_mb * 1024 * 1024;
    // Never ask for more files than the server itself may open.
    let nofile = match nix::sys::resource::getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) => limits.nofile.min(hard),
        Err(_) => limits.nofile,
    };
    let nproc = limits.nproc;
    let uid = Uid::from_raw(paths::STAGING_UID);
    let gid = Gid::from_raw(paths::STAGING_GID);
    // SAFETY: runs in the forked child before exec; write, setsid, setrlimit, umask,
    // setgroups, setgid and setuid are plain syscalls that are async-signal-safe, and the closure
    // allocates nothing.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            if nix::unistd::write(std::os::fd::BorrowedFd::borrow_raw(procs), b"0")? != 1 {
                return Err(std::io::Error::other("could not join the staging cgroup"));
            }
            nix::unistd::setsid()?;
            setrlimit(Resource::RLIMIT_NOFILE, nofile, nofile)?;
            setrlimit(Resource::RLIMIT_DATA, memory, memory)?;
            setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
            setrlimit(Resource::RLIMIT_NPROC, nproc, nproc)?;
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
            nix::unistd::setgroups(&[])?;
            nix::unistd::setgid(gid)?;
            nix::unistd::setuid(uid)?;
            Ok(())
        });
    }
}
