//! `ladle worker`: staging slots in another process, sharing the API node's database and
//! blobstore through the durable queue.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::support::{ladle_bin, TestServer, SECRET};

/// A `ladle worker` with one staging slot on a server's database and blobstore, stopped on drop.
pub struct Worker {
    child: Child,
    data_dir: tempfile::TempDir,
}

impl Worker {
    pub fn start(server: &TestServer) -> Worker {
        Self::start_with(server, &[], tempfile::tempdir().unwrap())
    }

    /// A worker with extra environment variables, on `data_dir` (a fresh one, or the data dir
    /// of a worker that was killed: the new one clears what the old one left behind).
    pub fn start_with(
        server: &TestServer,
        env: &[(&str, &str)],
        data_dir: tempfile::TempDir,
    ) -> Worker {
        let mut command = worker_command(server, env, &data_dir);
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn ladle worker");
        Worker { child, data_dir }
    }

    /// A worker as `start_with`, also serving `/healthz`, `/readyz` and `/metrics` on a loopback
    /// port; with the URL it prints once it listens (waited for up to 60 s).
    pub fn start_listening(
        server: &TestServer,
        env: &[(&str, &str)],
        data_dir: tempfile::TempDir,
    ) -> (Worker, String) {
        let mut command = worker_command(server, env, &data_dir);
        let mut child = command
            .arg("--listen=127.0.0.1:0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn ladle worker");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, first_line) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = sender.send(line);
        });
        let worker = Worker { child, data_dir };
        let line = first_line
            .recv_timeout(Duration::from_secs(60))
            .expect("ladle worker --listen printed nothing within 60 s");
        let Some(url) = line.trim().strip_prefix("ladle worker listening on ") else {
            panic!("unexpected first line from ladle worker: {line:?}");
        };
        (worker, url.to_string())
    }

    /// SIGKILL, as a node that dies: nothing is handed back, nothing cleaned up.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap())
    }

    /// SIGTERM, then waits (up to `limit`) for the worker to exit; its exit status.
    pub async fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        tokio::time::timeout(limit, self.exited())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the worker did not exit within {} s of SIGTERM",
                    limit.as_secs()
                )
            })
    }

    /// Resolves when the worker process ends, with its exit status.
    pub async fn exited(&mut self) -> std::process::ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().expect("worker status") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn worker_command(
    server: &TestServer,
    env: &[(&str, &str)],
    data_dir: &tempfile::TempDir,
) -> Command {
    let mut command = Command::new(ladle_bin());
    command
        .arg("worker")
        .arg(format!("--data-dir={}", data_dir.path().display()))
        .arg(format!("--database-url={}", server.database_url))
        .arg(format!("--blobstore={}", server.blobstore))
        .env("LADLE_TOKEN_SECRET", SECRET)
        .env("LADLE_STAGING_SLOTS", "1")
        // A broken runc must fail the test, not degrade to another executor.
        .env("LADLE_STAGER", "runc")
        .env("LADLE_LOG", "warn")
        // Tests stop workers with SIGTERM and SIGKILL a few seconds later.
        .env("LADLE_SHUTDOWN_GRACE_SECONDS", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

impl Drop for Worker {
    fn drop(&mut self) {
        crate::support::stop(&mut self.child);
    }
}

#[tokio::test]
async fn a_separate_worker_stages_what_an_api_node_without_slots_queued() {
    let server = TestServer::start_with(&[("LADLE_STAGING_SLOTS", "0")]).await;
    let noop = server.admin_buildpack("noop", "noop").await;
    let (_, package_guid) = server.app_with_package("worker-dev", "plain").await;
    let token = server.user_token("worker-dev");
    let created = server
        .post(
            &format!("/v3/packages/{package_guid}/droplets"),
            &token,
            json!({"buildpack_guid": noop}),
        )
        .await;
    created.assert_status(201);
    let path = format!("/v3/droplets/{}", created.body["guid"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        server.get(&path, &token).await.body["state"],
        "PENDING",
        "no slots on the API node"
    );

    let mut worker = Worker::start(&server);
    let staged = tokio::select! {
        staged = server.wait_final(&path, &token) => staged,
        status = worker.exited() => panic!("ladle worker exited ({status}); its error is above"),
    };
    assert_eq!(staged["state"], "STAGED", "{staged}");
    assert_eq!(staged["process_types"]["web"], "./noop");
}
