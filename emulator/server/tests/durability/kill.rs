//! The durability test of issue 11: the real `emulator` binary runs a bounded load of
//! PutObject, SendMessage, DeleteMessage(Batch) and BatchCreatePartition on a data dir and is
//! killed with SIGKILL at a random point, 20 times, each time restarted on the same dir. After
//! every restart each acknowledged object and partition must be there; no message whose
//! deletion was acknowledged may ever be received again; at the end every acknowledged message
//! that no DeleteMessage was sent for must still be in the queue (0 lost). (A delete the kill
//! cut off may or may not have happened: such a message may be either gone or back.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};

use super::restart::partition_key_count;
use crate::common;

const KILLS: usize = 20;
const QUEUE: &str = "durability-q";

/// What the emulator acknowledged (a 200 reached the client).
#[derive(Default)]
struct Acked {
    /// Key -> ETag of the acknowledged PUT.
    objects: BTreeMap<String, String>,
    partitions: BTreeSet<Vec<String>>,
    sent: BTreeSet<String>,
    deleted: BTreeSet<String>,
    /// Messages a DeleteMessage(Batch) was sent for: gone or not, as the kill decided.
    delete_tried: BTreeSet<String>,
    /// Messages received again after their deletion was acknowledged (must stay empty).
    resurrected: Vec<String>,
}

pub(super) struct Running {
    pub(super) child: Child,
    pub(super) url: String,
}

/// A failing test does not leave an emulator process behind.
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary on `dir`; returns once it answers, with the time that took.
pub(super) async fn spawn(dir: &Path, log: &Path) -> (Running, Duration) {
    spawn_serve(&["--data-dir".as_ref(), dir.as_os_str()], &[], log).await
}

/// Starts `emulator serve --no-functions` with `args` and `env` added, its log appended to
/// `log`; returns once it answers, with the time that took.
pub(super) async fn spawn_serve(
    args: &[&std::ffi::OsStr],
    env: &[(&str, &Path)],
    log: &Path,
) -> (Running, Duration) {
    let port = free_port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_emulator"))
        .args(["serve", "--no-functions", "--port", &port.to_string()])
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the emulator binary starts");
    let mut running = Running {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let s3 = common::s3(&running.url).await;
    loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            panic!("the emulator exited at start ({status}); see its log");
        }
        if s3.list_buckets().send().await.is_ok() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no start in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready = started.elapsed();
    (running, ready)
}

/// SDK clients for the load: no retries and short timeouts, so a request the kill cuts off
/// fails at once instead of retrying against a dead port.
async fn load_config(url: &str) -> aws_config::SdkConfig {
    let base = common::sdk_config(url).await;
    base.into_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .build()
}

fn body_of(key: &str) -> Vec<u8> {
    key.as_bytes().repeat(64)
}

/// The kill loop, then the final checks (the load and the checks are functions below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_no_acknowledged_write() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let log = work.path().join("emulator.log");
    let config = common::config();
    let (db, table) = (
        config.resources.glue_database.clone(),
        config.entities.values().next().unwrap().table_name.clone(),
    );
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut ready_times = Vec::new();
    let mut keys = 0;
    for cycle in 0..KILLS {
        let (mut running, ready) = spawn(&dir, &log).await;
        ready_times.push(ready);
        let conf = load_config(&running.url).await;
        if cycle == 0 {
            keys = partition_key_count(&aws_sdk_glue::Client::new(&conf), &db, &table).await;
            aws_sdk_sqs::Client::new(&conf)
                .create_queue()
                .queue_name(QUEUE)
                .attributes(QueueAttributeName::VisibilityTimeout, "1")
                .send()
                .await
                .unwrap();
        }
        check_after_restart(&running.url, &acked, &db, &table).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let tasks = vec![
            tokio::spawn(put_objects(
                conf.clone(),
                cycle,
                0,
                acked.clone(),
                stop.clone(),
            )),
            tokio::spawn(put_objects(
                conf.clone(),
                cycle,
                1,
                acked.clone(),
                stop.clone(),
            )),
            tokio::spawn(send_messages(
                conf.clone(),
                cycle,
                acked.clone(),
                stop.clone(),
            )),
            tokio::spawn(consume(conf.clone(), acked.clone(), stop.clone())),
            tokio::spawn(create_partitions(
                conf.clone(),
                cycle,
                (db.clone(), table.clone(), keys),
                acked.clone(),
                stop.clone(),
            )),
        ];
        let delay = 50 + rand::random::<u64>() % 350;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        running.child.kill().unwrap(); // SIGKILL
        running.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
    }
    let (mut running, ready) = spawn(&dir, &log).await;
    ready_times.push(ready);
    check_after_restart(&running.url, &acked, &db, &table).await;
    let remaining = drain(&running.url).await;
    check_messages(&acked.lock().unwrap(), &remaining, &ready_times);
    verify_object_bodies(&running.url, &acked).await;
    running.child.kill().unwrap();
    running.child.wait().unwrap();
}

/// Every acknowledged object (by ETag) and partition is there.
async fn check_after_restart(url: &str, acked: &Mutex<Acked>, db: &str, table: &str) {
    let (objects, partitions) = {
        let a = acked.lock().unwrap();
        (a.objects.clone(), a.partitions.clone())
    };
    let s3 = common::s3(url).await;
    let bucket = common::config().resources.analytics_bucket;
    let mut listed = BTreeMap::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("durability/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            listed.insert(o.key().unwrap().to_owned(), o.e_tag().unwrap().to_owned());
        }
    }
    for (key, etag) in &objects {
        assert_eq!(listed.get(key), Some(etag), "acknowledged object {key}");
    }
    let glue = common::glue(url).await;
    let mut found = BTreeSet::new();
    let mut token = None;
    loop {
        let page = glue
            .get_partitions()
            .database_name(db)
            .table_name(table)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        found.extend(page.partitions().iter().map(|p| p.values().to_vec()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let missing: Vec<_> = partitions.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "acknowledged partitions missing: {missing:?}"
    );
}

fn stopped(stop: &std::sync::atomic::AtomicBool) -> bool {
    stop.load(std::sync::atomic::Ordering::Relaxed)
}

async fn put_objects(
    conf: aws_config::SdkConfig,
    cycle: usize,
    worker: usize,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = common::config().resources.analytics_bucket;
    for i in 0.. {
        if stopped(&stop) {
            return;
        }
        let key = format!("durability/{cycle}/{worker}/{i}");
        let put = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from(body_of(&key)))
            .send()
            .await;
        match put {
            Ok(out) => {
                let etag = out.e_tag().unwrap().to_owned();
                acked.lock().unwrap().objects.insert(key, etag);
            }
            Err(_) => return,
        }
    }
}

async fn send_messages(
    conf: aws_config::SdkConfig,
    cycle: usize,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let Ok(url) = sqs.get_queue_url().queue_name(QUEUE).send().await else {
        return;
    };
    let url = url.queue_url().unwrap().to_owned();
    for i in 0.. {
        if stopped(&stop) {
            return;
        }
        let bodies: Vec<String> = (0..3).map(|j| format!("m-{cycle}-{i}-{j}")).collect();
        let entries = bodies.iter().enumerate().map(|(j, body)| {
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(format!("e{j}"))
                .message_body(body)
                .build()
                .unwrap()
        });
        let single = format!("m-{cycle}-{i}-single");
        let batch = sqs
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries.collect()))
            .send()
            .await;
        let Ok(batch) = batch else { return };
        {
            let mut a = acked.lock().unwrap();
            for ok in batch.successful() {
                let j: usize = ok.id()[1..].parse().unwrap();
                a.sent.insert(bodies[j].clone());
            }
        }
        match sqs
            .send_message()
            .queue_url(&url)
            .message_body(&single)
            .send()
            .await
        {
            Ok(_) => {
                acked.lock().unwrap().sent.insert(single);
            }
            Err(_) => return,
        }
    }
}

/// Receives and deletes; a message whose deletion was acknowledged must never come back.
async fn consume(
    conf: aws_config::SdkConfig,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let Ok(url) = sqs.get_queue_url().queue_name(QUEUE).send().await else {
        return;
    };
    let url = url.queue_url().unwrap().to_owned();
    for round in 0.. {
        if stopped(&stop) {
            return;
        }
        let Ok(received) = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
        else {
            return;
        };
        let messages = received.messages();
        {
            let mut a = acked.lock().unwrap();
            for m in messages {
                let body = m.body().unwrap().to_owned();
                if a.deleted.contains(&body) {
                    a.resurrected.push(body);
                }
            }
        }
        if messages.is_empty() {
            continue;
        }
        {
            let mut a = acked.lock().unwrap();
            for m in messages {
                a.delete_tried.insert(m.body().unwrap().to_owned());
            }
        }
        // Alternate single deletes and batches, as consumers do.
        if round % 2 == 0 {
            for m in messages {
                let deleted = sqs
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await;
                if deleted.is_err() {
                    return;
                }
                acked
                    .lock()
                    .unwrap()
                    .deleted
                    .insert(m.body().unwrap().to_owned());
            }
        } else {
            let entries = messages.iter().enumerate().map(|(n, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("d{n}"))
                    .receipt_handle(m.receipt_handle().unwrap())
                    .build()
                    .unwrap()
            });
            let Ok(out) = sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
            else {
                return;
            };
            let mut a = acked.lock().unwrap();
            for ok in out.successful() {
                let n: usize = ok.id()[1..].parse().unwrap();
                a.deleted.insert(messages[n].body().unwrap().to_owned());
            }
        }
    }
}

async fn create_partitions(
    conf: aws_config::SdkConfig,
    cycle: usize,
    (db, table, keys): (String, String, usize),
    acked: Arc<Mutex<Acked>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let glue = aws_sdk_glue::Client::new(&conf);
    for i in 0.. {
        if stopped(&stop) {
            return;
        }
        let batch: Vec<Vec<String>> = (0..5)
            .map(|j| {
                let mut values = vec!["1".to_owned(); keys];
                values[keys - 1] = format!("{}", (cycle * 100_000) + i * 5 + j);
                values
            })
            .collect();
        let inputs = batch.iter().map(|values| {
            aws_sdk_glue::types::PartitionInput::builder()
                .set_values(Some(values.clone()))
                .build()
        });
        let Ok(out) = glue
            .batch_create_partition()
            .database_name(&db)
            .table_name(&table)
            .set_partition_input_list(Some(inputs.collect()))
            .send()
            .await
        else {
            return;
        };
        let failed: BTreeSet<Vec<String>> = out
            .errors()
            .iter()
            .map(|e| e.partition_values().to_vec())
            .collect();
        let mut a = acked.lock().unwrap();
        for values in batch {
            if !failed.contains(&values) {
                a.partitions.insert(values);
            }
        }
    }
}

/// Receives and deletes everything left (the queue's visibility timeout is 1 s, so messages
/// in flight at the last kill come back); returns the bodies.
async fn drain(url: &str) -> BTreeSet<String> {
    let sqs = common::sqs(url).await;
    let queue = sqs
        .get_queue_url()
        .queue_name(QUEUE)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let mut bodies = BTreeSet::new();
    let started = Instant::now();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            bodies.insert(m.body().unwrap().to_owned());
            sqs.delete_message()
                .queue_url(&queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        if out.messages().is_empty() {
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(&queue)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .unwrap();
            let attrs = attrs.attributes().unwrap();
            let left = [
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ]
            .iter()
            .map(|n| attrs[&QueueAttributeName::from(*n)].parse::<u64>().unwrap())
            .sum::<u64>();
            if left == 0 {
                return bodies;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the queue does not drain"
        );
    }
}

/// Reads back a sample of the acknowledged objects byte for byte.
async fn verify_object_bodies(url: &str, acked: &Mutex<Acked>) {
    let keys: Vec<String> = acked.lock().unwrap().objects.keys().cloned().collect();
    let s3 = common::s3(url).await;
    let bucket = common::config().resources.analytics_bucket;
    for key in keys.iter().step_by(7) {
        let out = s3
            .get_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let body = out.body.collect().await.unwrap().into_bytes();
        assert!(body[..] == body_of(key)[..], "{key}");
    }
}

/// 0 lost, 0 back: every acknowledged message nobody tried to delete is in `remaining`, and no
/// message whose deletion was acknowledged came back. Prints the run's figures.
fn check_messages(a: &Acked, remaining: &BTreeSet<String>, ready_times: &[Duration]) {
    let lost: Vec<_> = a
        .sent
        .iter()
        .filter(|m| !a.delete_tried.contains(*m) && !remaining.contains(*m))
        .collect();
    let back: Vec<_> = remaining.intersection(&a.deleted).collect();
    eprintln!(
        "durability: {KILLS} kill -9s; acknowledged {} objects, {} partitions, {} messages \
         sent, {} deleted; after the last restart {} left in the queue; lost {}, deleted but \
         back {}; restart-to-ready times (ms): {:?}",
        a.objects.len(),
        a.partitions.len(),
        a.sent.len(),
        a.deleted.len(),
        remaining.len(),
        lost.len(),
        back.len() + a.resurrected.len(),
        ready_times
            .iter()
            .map(Duration::as_millis)
            .collect::<Vec<_>>()
    );
    assert!(lost.is_empty(), "acknowledged messages lost: {lost:?}");
    assert!(
        back.is_empty(),
        "deleted messages back in the queue: {back:?}"
    );
    assert!(
        a.resurrected.is_empty(),
        "deleted messages received again: {:?}",
        a.resurrected
    );
    assert!(!a.objects.is_empty() && !a.sent.is_empty() && !a.partitions.is_empty());
}
