//! Running the builder as a plain child process, for machines where runc cannot be used.
//!
//! Limits are best-effort: rlimits apply per process (RLIMIT_DATA for memory, RLIMIT_NPROC
//! only when we switch to the staging user, since it counts every process of that user), the
//! time limit kills the whole process group, and disk is either a loop-mounted ext4 image (when
//! root) or a folder whose size is polled every second, killing the builder when it is over.
//! There is no network isolation and no private root filesystem.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ladle_contract::paths;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::log::LogSink;
use crate::supervise::{supervise, DiskWatch, Supervised};

pub(crate) struct ProcessLimits {
    pub memory_mb: u64,
    pub nofile: u64,
    pub nproc: u64,
    /// Run as the staging user (requires root).
    pub switch_user: bool,
}

/// Kills the builder's process group when dropped, so a cancelled staging leaves no process.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_process(
    builder: &Path,
    args: &[String],
    env: &[(String, String)],
    home: &Path,
    limits: &ProcessLimits,
    timeout: Duration,
    watch: &mut DiskWatch<'_>,
    sink: &dyn LogSink,
) -> std::io::Result<Supervised> {
    let mut command = tokio::process::Command::new(builder);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if limits.switch_user {
        command.uid(paths::STAGING_UID).gid(paths::STAGING_GID);
    }
    apply_rlimits(&mut command, limits);
    let mut guard = GroupGuard(None);
    let mut child = command.spawn()?;
    // With process_group(0) the group id is the child's pid.
    guard.0 = child.id().map(|pid| Pid::from_raw(pid as i32));
    let group = guard.0;
    let kill = || async move {
        if let Some(group) = group {
            let _ = killpg(group, Signal::SIGKILL);
        }
    };
    let run = supervise(&mut child, timeout, watch, sink, kill).await?;
    // Buildpacks may have left background processes in the group; the guard reaps them now.
    drop(guard);
    Ok(run)
}

fn apply_rlimits(command: &mut tokio::process::Command, limits: &ProcessLimits) {
    let memory = limits.memory_mb * 1024 * 1024;
    // The closure runs after the switch to the staging user, which may lower limits but not
    // raise them: never ask for more files than the server itself may open.
    let nofile = match nix::sys::resource::getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) => limits.nofile.min(hard),
        Err(_) => limits.nofile,
    };
    let nproc = limits.switch_user.then_some(limits.nproc);
    // SAFETY: runs in the forked child before exec; setrlimit is a plain syscall that is
    // async-signal-safe, and the closure allocates nothing.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            setrlimit(Resource::RLIMIT_NOFILE, nofile, nofile)?;
            setrlimit(Resource::RLIMIT_DATA, memory, memory)?;
            setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
            if let Some(nproc) = nproc {
                setrlimit(Resource::RLIMIT_NPROC, nproc, nproc)?;
            }
            Ok(())
        });
    }
}
