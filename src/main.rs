//! `amazonpay2-server`: the shop-side Amazon Pay service (and, with `--demo`, the whole offline
//! demo with the Amazon Pay simulator).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    use clap::{Parser, Subcommand};

    use amazonpay2::core::signer::ButtonSigner;
    use amazonpay2::server::config::Config;
    use amazonpay2::server::{self, Listeners};

    /// Amazon Pay (Checkout v2) for Craft Cart shops. Settings come from AMAZONPAY2_*
    /// environment variables; with none of the Amazon settings it runs the offline demo.
    #[derive(Parser)]
    #[command(name = "amazonpay2-server", version)]
    struct Cli {
        /// Run the self-contained demo with the Amazon Pay simulator, whatever is configured.
        #[arg(long)]
        demo: bool,
        #[command(subcommand)]
        command: Option<Command>,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Charge every subscription (定期購入) due today (Japan), or on --date.
        Subscriptions {
            /// The day to run for, YYYY-MM-DD (default: today in Japan).
            #[arg(long)]
            date: Option<String>,
        },
        /// Measure uncached button signing on one core (signatures per second).
        BenchSign {
            /// How long to sign for.
            #[arg(long, default_value_t = 5)]
            seconds: u64,
        },
    }

    pub fn main() -> ExitCode {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
            .init();
        let cli = Cli::parse();
        let result = match Config::from_env(cli.demo) {
            Err(e) => Err(server::ServerError::from(e)),
            Ok(config) => match cli.command {
                Some(Command::BenchSign { seconds }) => bench_sign(&config, seconds),
                Some(Command::Subscriptions { date }) => subscriptions(config, date.as_deref()),
                None => run(config),
            },
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("amazonpay2-server: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn run(config: Config) -> Result<(), server::ServerError> {
        let runtime = tokio::runtime::Runtime::new().map_err(server::ServerError::Serve)?;
        runtime.block_on(async {
            let listeners = Listeners::bind(&config).await?;
            if config.demo.is_some() {
                println!("デモ: {}/ をブラウザーで開いてください (demo shop)", config.shop_origin.as_str());
            }
            server::serve(config, listeners, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
        })
    }

    fn subscriptions(config: Config, date: Option<&str>) -> Result<(), server::ServerError> {
        let today = match date {
            Some(text) => {
                time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| {
                    server::ServerError::Serve(std::io::Error::other(format!("--date {text}: use YYYY-MM-DD")))
                })?
            }
            None => amazonpay2::core::rules::today_in_japan(),
        };
        let state = server::state_for_command(config)?;
        let runtime = tokio::runtime::Runtime::new().map_err(server::ServerError::Serve)?;
        let cycles = runtime.block_on(amazonpay2::core::subscriptions::run(&state, today))?;
        for cycle in &cycles {
            println!(
                "subscription {} cycle {}: order {} {}",
                cycle.subscription_id, cycle.date, cycle.order_number, cycle.status
            );
        }
        println!("{} subscription cycle(s) due on or before {today}", cycles.len());
        Ok(())
    }

    /// Signs distinct payloads on this one thread for `seconds` and prints the rate.
    fn bench_sign(config: &Config, seconds: u64) -> Result<(), server::ServerError> {
        let key = std::sync::Arc::new(server::load_key(config)?);
        let signer = ButtonSigner::new(key, config.amazon.public_key_id.clone());
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut count = 0u64;
        while Instant::now() < deadline {
            let payload = format!("{{\"storeId\":\"bench\",\"n\":{count}}}");
            signer
                .sign_uncached(&payload)
                .map_err(|e| server::ServerError::Serve(std::io::Error::other(e.to_string())))?;
            count += 1;
        }
        let rate = count as f64 / started.elapsed().as_secs_f64();
        println!(
            "sign_uncached: {count} signatures in {:.2} s = {rate:.1} signs/s (1 core)",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

// Lets `cargo test --target wasm32-unknown-unknown` build every target.
#[cfg(target_arch = "wasm32")]
fn main() {}
