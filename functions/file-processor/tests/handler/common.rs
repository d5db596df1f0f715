//! Test harness: the emulator in-process on a free port, real SDK clients, and SQS events built
//! from the emulator's own notifications exactly as the Lambda SQS event source mapping delivers
//! them (<https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html>: messageId, receiptHandle,
//! body, attributes, messageAttributes, md5OfBody, eventSource, eventSourceARN, awsRegion).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_glue::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_glue::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use emulator::{EmulatorServer, ServeOptions};
use file_processor::telemetry::Captured;
use file_processor::{Clients, Invocation, Processor, Settings, Telemetry};
use pipeline_core::config::{Config, EMBEDDED_PIPELINE_JSON};
use serde_json::{json, Value};

pub const SALES_HEADER: &str = "transaction_id,customer_id,amount,transaction_date\n";

/// The shipped config plus an `orders` entity whose file names may carry a free-text suffix
/// (letters of any script, digits, spaces), so one day can have several files and a file name
/// can contain spaces and non-ASCII letters. `sales` is switched to the CSV copy: these tests
/// check the copy path byte for byte; [`shipped_config`] keeps the shipped formats (Parquet).
pub fn test_config() -> Config {
    config_with(|value| {
        value["entities"]["sales"]["format"] = "csv".into();
        value["entities"]["sales"]
            .as_object_mut()
            .unwrap()
            .remove("parquet");
    })
}

/// The shipped config (sales and events as Parquet) plus the `orders` entity.
pub fn shipped_config() -> Config {
    config_with(|_| {})
}

fn config_with(edit: impl FnOnce(&mut Value)) -> Config {
    let mut value: Value = serde_json::from_str(EMBEDDED_PIPELINE_JSON).unwrap();
    edit(&mut value);
    value["entities"]["orders"] = json!({
        "table_name": "orders",
        "filename_pattern": "orders_(\\d{4})-(\\d{2})-(\\d{2})_[\\p{L}\\p{N} _-]+\\.csv",
        "partition_keys": ["year", "month", "day"],
        "schema": [
            {"name": "order_id", "type": "string"},
            {"name": "quantity", "type": "int"}
        ]
    });
    Config::from_json_str(&value.to_string(), &|name| {
        (name == "AWS_ACCOUNT_ID").then(|| "000000000000".to_string())
    })
    .unwrap()
}

/// Counts Glue requests (every attempt) by `X-Amz-Target`, e.g. `AWSGlue.BatchCreatePartition`.
#[derive(Debug, Clone, Default)]
pub struct GlueRequestLog(Arc<Mutex<Vec<String>>>);

impl GlueRequestLog {
    pub fn operations(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl Intercept for GlueRequestLog {
    fn name(&self) -> &'static str {
        "GlueRequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_glue::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .trim_start_matches("AWSGlue.")
            .to_string();
        self.0.lock().unwrap().push(target);
        Ok(())
    }
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    // The handler's own loader (its timeouts and retries), pointed at the endpoint.
    file_processor::clients::config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

pub struct Harness {
    pub server: EmulatorServer,
    pub config: Config,
    pub clients: Clients,
    pub glue_log: GlueRequestLog,
    pub processor: Processor,
    pub lines: Captured,
    pub queue_url: String,
    pub dlq_url: String,
    /// Messages that were in the queue at start-up (the s3:TestEvent of the bootstrap).
    pub startup_messages: Vec<Message>,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(|_| {}, None).await
    }

    /// `tune` adjusts the settings; `glue_endpoint` replaces the Glue endpoint (fault tests).
    pub async fn start_with(
        tune: impl FnOnce(&mut Settings),
        glue_endpoint: Option<&str>,
    ) -> Harness {
        Harness::start_with_config(test_config(), tune, glue_endpoint).await
    }

    /// Like [`Harness::start_with`] with another config (e.g. [`shipped_config`]).
    pub async fn start_with_config(
        config: Config,
        tune: impl FnOnce(&mut Settings),
        glue_endpoint: Option<&str>,
    ) -> Harness {
        let server = EmulatorServer::start(ServeOptions {
            bind: "127.0.0.1:0".parse().unwrap(),
            config: Some(config.clone()),
            config_path: None,
            // The tests play the event source mapping themselves, in-process.
            run_functions: false,
            data_dir: None,
        })
        .await
        .expect("emulator starts");
        let endpoint = server.endpoint_url();
        let sdk = sdk_config(&endpoint).await;
        let mut clients = Clients::from_sdk_config(&sdk, true);
        let glue_log = GlueRequestLog::default();
        let glue_sdk = match glue_endpoint {
            Some(url) => sdk_config(url).await,
            None => sdk.clone(),
        };
        clients.glue = aws_sdk_glue::Client::from_conf(
            aws_sdk_glue::config::Builder::from(&glue_sdk)
                .interceptor(glue_log.clone())
                .build(),
        );
        let mut settings = Settings::from_config(&config);
        tune(&mut settings);
        let (telemetry, lines) = Telemetry::captured(settings.metrics_namespace.clone());
        let processor =
            Processor::new(clients.clone(), config.clone(), settings).with_telemetry(telemetry);
        let queue_url = queue_url(&clients.sqs, &config.resources.sqs_queue).await;
        let dlq_url = queue_url_of(&clients.sqs, &config.resources.dead_letter_queue).await;
        let startup_messages = receive(&clients.sqs, &queue_url, Duration::from_millis(200)).await;
        Harness {
            server,
            config,
            clients,
            glue_log,
            processor,
            lines,
            queue_url,
            dlq_url,
            startup_messages,
        }
    }

    pub fn source_bucket(&self) -> &str {
        &self.config.resources.source_bucket
    }

    pub fn analytics_bucket(&self) -> &str {
        &self.config.resources.analytics_bucket
    }

    pub async fn upload(&self, key: &str, bytes: impl Into<Vec<u8>>) {
        self.clients
            .s3
            .put_object()
            .bucket(self.source_bucket())
            .key(key)
            .body(bytes.into().into())
            .send()
            .await
            .expect("upload to the source bucket");
    }

    /// Uploads and returns the event announcing it (one message).
    pub async fn upload_and_receive(&self, key: &str, bytes: impl Into<Vec<u8>>) -> SqsEvent {
        self.upload(key, bytes).await;
        let messages = self.receive_messages(1).await;
        self.event_of(&messages)
    }

    /// Receives until `count` messages have arrived (each receive waits up to 1 s).
    pub async fn receive_messages(&self, count: usize) -> Vec<Message> {
        let mut messages = Vec::new();
        for _ in 0..10 {
            messages
                .extend(receive(&self.clients.sqs, &self.queue_url, Duration::from_secs(1)).await);
            if messages.len() >= count {
                break;
            }
        }
        assert_eq!(messages.len(), count, "expected {count} notification(s)");
        messages
    }

    pub fn event_of(&self, messages: &[Message]) -> SqsEvent {
        sqs_event(
            messages,
            &format!(
                "arn:aws:sqs:{}:{}:{}",
                self.config.aws.region, self.config.aws.account_id, self.config.resources.sqs_queue
            ),
            &self.config.aws.region,
        )
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let invocation = Invocation {
            request_id: "test-request".into(),
            trace_id: Some("Root=1-00000000-000000000000000000000000".into()),
            deadline: None,
        };
        self.processor.handle_batch(event, &invocation).await
    }

    pub async fn output(
        &self,
        key: &str,
    ) -> Option<(Vec<u8>, std::collections::HashMap<String, String>)> {
        let got = self
            .clients
            .s3
            .get_object()
            .bucket(self.analytics_bucket())
            .key(key)
            .send()
            .await
            .ok()?;
        let metadata = got.metadata().cloned().unwrap_or_default();
        let bytes = got.body.collect().await.unwrap().into_bytes().to_vec();
        Some((bytes, metadata))
    }

    pub async fn output_keys(&self) -> Vec<String> {
        let listed = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(self.analytics_bucket())
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }

    /// `(values, location)` of every partition of `table`, read with a plain Glue client.
    pub async fn partitions(&self, table: &str) -> Vec<(Vec<String>, String)> {
        let glue = aws_sdk_glue::Client::new(&sdk_config(&self.server.endpoint_url()).await);
        let got = glue
            .get_partitions()
            .database_name(&self.config.resources.glue_database)
            .table_name(table)
            .send()
            .await
            .unwrap();
        got.partitions()
            .iter()
            .map(|p| {
                (
                    p.values().to_vec(),
                    p.storage_descriptor()
                        .and_then(|sd| sd.location())
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    }

    /// Every message in the DLQ: (body, error_class, error_reason).
    pub async fn dead_letters(&self) -> Vec<(String, String, String)> {
        let mut all = Vec::new();
        loop {
            let got = receive(&self.clients.sqs, &self.dlq_url, Duration::from_millis(200)).await;
            if got.is_empty() {
                break;
            }
            for message in got {
                let attribute = |name: &str| {
                    message
                        .message_attributes()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.string_value())
                        .unwrap_or_default()
                        .to_string()
                };
                all.push((
                    message.body().unwrap_or_default().to_string(),
                    attribute("error_class"),
                    attribute("error_reason"),
                ));
            }
        }
        all
    }

    /// Queue attribute as a number (ApproximateNumberOfMessages, ...NotVisible).
    pub async fn queue_count(&self, attribute: QueueAttributeName) -> u64 {
        let got = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(attribute.clone())
            .send()
            .await
            .unwrap();
        got.attributes()
            .and_then(|a| a.get(&attribute))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// The per-file log lines so far.
    /// The per-file lines (they carry an `outcome`).
    pub fn file_lines(&self) -> Vec<Value> {
        let mut lines = self.lines.lines();
        lines.retain(|line| line.get("outcome").is_some());
        lines
    }

    /// The per-message action lines (DLQ sends, delayed retries), by their metric name.
    pub fn message_events(&self) -> Vec<String> {
        let names = [
            "MessagesDeadLettered",
            "DeadLetterSendFailures",
            "RetriesDelayed",
            "VisibilityChangeFailures",
        ];
        self.lines
            .lines()
            .iter()
            .filter_map(|line| names.into_iter().find(|name| line.get(*name).is_some()))
            .map(str::to_string)
            .collect()
    }

    pub fn outcomes(&self) -> Vec<String> {
        self.file_lines()
            .iter()
            .map(|l| l["outcome"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

pub async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    queue_url_of(sqs, name).await
}

async fn queue_url_of(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .expect("queue exists")
        .queue_url()
        .unwrap()
        .to_string()
}

pub async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, wait: Duration) -> Vec<Message> {
    sqs.receive_message()
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

/// The event the SQS event source mapping would send for these messages (shared with the ops
/// tool's tests and the throughput bench).
pub use e2e_tests::sqs_event;

/// A message with a custom body (garbage bodies), shaped like the mapping's.
pub fn raw_event(message_id: &str, body: &str, queue_arn: &str) -> SqsEvent {
    serde_json::from_value(json!({"Records": [{
        "messageId": message_id,
        "receiptHandle": format!("rh-{message_id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1710460800000",
                        "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1710460800001"},
        "messageAttributes": {},
        "md5OfBody": hex::encode(<md5::Md5 as md5::Digest>::digest(body.as_bytes())),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1"
    }]}))
    .unwrap()
}

pub fn sales_csv(rows: &[&str]) -> String {
    let mut text = SALES_HEADER.to_string();
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}
