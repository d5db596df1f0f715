//! Harness: the emulator in-process on a free port (S3, SQS, Glue; no function processes), the
//! real `pipeline-ops` binary run against it with `--output json`, and the handler library
//! playing the SQS event source mapping (receive, `handle_batch`, delete what succeeded), so
//! "the pipeline then processes them" is the real handler code over HTTP.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use emulator::{EmulatorServer, ServeOptions};
use file_processor::telemetry::Captured;
use file_processor::{Clients, Invocation, Processor, Settings, Telemetry};
use pipeline_core::config::{Config, EMBEDDED_PIPELINE_JSON};
use serde_json::Value;

pub const SALES_HEADER: &str = "transaction_id,customer_id,amount,transaction_date\n";

pub fn sales_csv(day: &str) -> String {
    format!("{SALES_HEADER}t1,c1,10.50,2024-03-{day}\nt2,c2,3.25,2024-03-{day}\n")
}

/// The shipped config with `edit` applied (account id 000000000000).
pub fn config_with(edit: impl FnOnce(&mut Value)) -> Config {
    let mut value: Value = serde_json::from_str(EMBEDDED_PIPELINE_JSON).unwrap();
    edit(&mut value);
    Config::from_json_str(&value.to_string(), &|name| {
        (name == "AWS_ACCOUNT_ID").then(|| "000000000000".to_string())
    })
    .unwrap()
}

pub struct Env {
    pub server: EmulatorServer,
    pub config: Config,
    pub clients: Clients,
    pub queue_url: String,
    pub dlq_url: String,
}

impl Env {
    /// The emulator bootstrapped from the shipped config, its start-up s3:TestEvent drained.
    pub async fn start() -> Env {
        let config = config_with(|_| {});
        let server = EmulatorServer::start(ServeOptions {
            bind: "127.0.0.1:0".parse().unwrap(),
            config: Some(config.clone()),
            config_path: None,
            run_functions: false,
            data_dir: None,
        })
        .await
        .expect("emulator starts");
        let sdk = file_processor::clients::config_loader()
            .endpoint_url(server.endpoint_url())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .load()
            .await;
        let clients = Clients::from_sdk_config(&sdk, true);
        let url = |name: String| {
            let sqs = clients.sqs.clone();
            async move {
                sqs.get_queue_url()
                    .queue_name(name)
                    .send()
                    .await
                    .unwrap()
                    .queue_url()
                    .unwrap()
                    .to_string()
            }
        };
        let queue_url = url(config.resources.sqs_queue.clone()).await;
        let dlq_url = url(config.resources.dead_letter_queue.clone()).await;
        let env = Env {
            server,
            config,
            clients,
            queue_url,
            dlq_url,
        };
        env.drain(&env.queue_url.clone()).await;
        env
    }

    /// Runs `pipeline-ops --endpoint-url <emulator> --output json ARGS`; returns the exit code
    /// and the JSON report (Null when stdout is not JSON). Exit code 2 (could not run) panics.
    pub async fn ops(&self, args: &[&str]) -> (i32, Value) {
        let (code, stdout) = self.ops_text(&[&["--output", "json"], args].concat()).await;
        (code, serde_json::from_str(&stdout).unwrap_or(Value::Null))
    }

    /// Like [`Env::ops`] with the default (table) output: exit code and stdout.
    pub async fn ops_text(&self, args: &[&str]) -> (i32, String) {
        let (code, stdout, stderr) = self.ops_raw(args).await;
        assert!(
            code != 2,
            "pipeline-ops {args:?} failed: {stderr}\nstdout: {stdout}"
        );
        (code, stdout)
    }

    /// Runs pipeline-ops against the emulator: exit code, stdout, stderr.
    pub async fn ops_raw(&self, args: &[&str]) -> (i32, String, String) {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pipeline-ops"))
            .args(["--endpoint-url", &self.server.endpoint_url()])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("PIPELINE_CONFIG")
            .output()
            .await
            .expect("pipeline-ops runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    pub async fn upload(&self, key: &str, body: &str) {
        self.clients
            .s3
            .put_object()
            .bucket(&self.config.resources.source_bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .expect("upload");
    }

    /// Removes the source bucket's notification: objects uploaded now "predate" it.
    pub async fn remove_notification(&self) {
        self.clients
            .s3
            .put_bucket_notification_configuration()
            .bucket(&self.config.resources.source_bucket)
            .notification_configuration(
                aws_sdk_s3::types::NotificationConfiguration::builder().build(),
            )
            .send()
            .await
            .expect("notification removed");
    }

    /// A processor over `config` (the deployed handler's config), telemetry captured.
    pub fn processor(&self, config: &Config) -> (Processor, Captured) {
        let settings = Settings::from_config(config);
        let (telemetry, lines) = Telemetry::captured(settings.metrics_namespace.clone());
        let processor = Processor::new(self.clients.clone(), config.clone(), settings)
            .with_telemetry(telemetry);
        (processor, lines)
    }

    /// Plays the event source mapping until the pipeline queue is empty: receive up to 10,
    /// `handle_batch`, delete the messages not reported failed. Returns the messages handled.
    pub async fn run_pipeline(&self, processor: &Processor) -> usize {
        let mut handled = 0;
        loop {
            let messages = self.receive(&self.queue_url, Duration::from_secs(1)).await;
            if messages.is_empty() {
                return handled;
            }
            handled += messages.len();
            let response = processor
                .handle_batch(self.sqs_event(&messages), &Invocation::default())
                .await;
            let failed: Vec<&str> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect();
            assert!(failed.is_empty(), "handler reported failures {failed:?}");
            for message in &messages {
                self.clients
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Makes a received message visible again at once.
    pub async fn make_visible(&self, url: &str, message: &Message) {
        self.clients
            .sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(message.receipt_handle().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }

    pub async fn receive(&self, url: &str, wait: Duration) -> Vec<Message> {
        self.clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive")
            .messages()
            .to_vec()
    }

    /// Receives and deletes everything in the queue; returns the bodies.
    pub async fn drain(&self, url: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let messages = self.receive(url, Duration::from_millis(0)).await;
            if messages.is_empty() {
                return bodies;
            }
            for message in messages {
                bodies.push(message.body().unwrap_or_default().to_string());
                self.clients
                    .sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// (visible, in flight) messages of a queue.
    pub async fn depth(&self, url: &str) -> (u64, u64) {
        let got = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attributes: HashMap<QueueAttributeName, String> =
            got.attributes().cloned().unwrap_or_default();
        let number = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (
            number(QueueAttributeName::ApproximateNumberOfMessages),
            number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Keys in the analytics bucket under `prefix`, sorted.
    pub async fn output_keys(&self, prefix: &str) -> Vec<String> {
        let listed = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.config.resources.analytics_bucket)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
        let mut keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect();
        keys.sort();
        keys
    }

    /// `(values joined by '/', location)` of every partition of `table`, sorted.
    pub async fn partitions(&self, table: &str) -> Vec<(String, String)> {
        let got = self
            .clients
            .glue
            .get_partitions()
            .database_name(&self.config.resources.glue_database)
            .table_name(table)
            .send()
            .await
            .unwrap();
        let mut partitions: Vec<(String, String)> = got
            .partitions()
            .iter()
            .map(|p| {
                (
                    p.values().join("/"),
                    p.storage_descriptor()
                        .and_then(|sd| sd.location())
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        partitions.sort();
        partitions
    }

    /// The SQS event the Lambda event source mapping delivers for these messages.
    fn sqs_event(&self, messages: &[Message]) -> SqsEvent {
        e2e_tests::sqs_event(messages, &self.config.queue_arn(), &self.config.aws.region)
    }
}

/// The sales partition location of a day in March 2024.
pub fn sales_location(day: &str) -> String {
    format!("s3://my-company-analytics/sales_data/year=2024/month=03/day={day}/")
}
