//! The Lambda entry point: load the config and settings, build the clients once, and serve
//! invocations with the [`file_processor::Processor`] kept warm between them.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use file_processor::{Clients, Invocation, Processor, Settings};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let env = |name: &str| std::env::var(name).ok();
    let config = file_processor::load_config(&env)?;
    let settings = Settings::from_env(&config, &env)?;
    let processor = Arc::new(Processor::new(Clients::from_env().await, config, settings));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let processor = processor.clone();
        async move {
            let invocation = Invocation::from_lambda(&event.context);
            Ok::<SqsBatchResponse, Error>(processor.handle_batch(event.payload, &invocation).await)
        }
    }))
    .await
}
