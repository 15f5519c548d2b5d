//! `amazonpay2-server`: the shop-side Amazon Pay service (and, with `--demo`, the whole offline
//! demo with the Amazon Pay simulator), and the jobs a shop schedules beside it.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    use clap::{Parser, Subcommand};

    use amazonpay2::core::rules::today_in_japan;
    use amazonpay2::core::signer::ButtonSigner;
    use amazonpay2::server::config::{Config, DatabaseUrl};
    use amazonpay2::server::{self, ServerError};
    use amazonpay2::storage::Postgres;
    use amazonpay2::storage::postgres::copy::copy_from_sqlite;

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
        /// Settle orders left unsettled (a stopped server, an unreadable answer, a pending
        /// authorization) from what Amazon says.
        Reconcile,
        /// Run the Amazon Pay simulator alone on AMAZONPAY2_SIMULATOR_LISTEN, trusting this
        /// shop's key, for several shop instances to share.
        Simulator,
        /// The database: bring its schema up to date, or move a shop from SQLite to PostgreSQL.
        Db {
            #[command(subcommand)]
            command: DbCommand,
        },
        /// Measure uncached button signing on one core (signatures per second).
        BenchSign {
            /// How long to sign for.
            #[arg(long, default_value_t = 5)]
            seconds: u64,
        },
    }

    #[derive(Subcommand)]
    enum DbCommand {
        /// Create or migrate the configured database (AMAZONPAY2_DATABASE_URL, else the SQLite
        /// database in AMAZONPAY2_DATA) and print its schema version.
        Migrate,
        /// Copy every table of a SQLite database into a PostgreSQL database, in one transaction,
        /// verified by counting each table on both sides.
        Copy {
            /// The SQLite database (amazonpay2.sqlite3, or the data folder holding it).
            #[arg(long)]
            from: std::path::PathBuf,
            /// The PostgreSQL database (postgres://…; default: AMAZONPAY2_DATABASE_URL).
            #[arg(long)]
            to: Option<String>,
            /// Empty a PostgreSQL database that already holds data before copying into it.
            #[arg(long)]
            replace: bool,
        },
    }

    pub fn main() -> ExitCode {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
            .init();
        let cli = Cli::parse();
        let result = Config::from_env(cli.demo).map_err(ServerError::from).and_then(|config| {
            let runtime = tokio::runtime::Runtime::new().map_err(ServerError::Serve)?;
            match cli.command {
                None => runtime.block_on(run(config)),
                Some(Command::Subscriptions { date }) => runtime.block_on(subscriptions(config, date.as_deref())),
                Some(Command::Reconcile) => runtime.block_on(reconcile(config)),
                Some(Command::Simulator) => runtime.block_on(simulator(config)),
                Some(Command::Db { command }) => runtime.block_on(db(config, command)),
                Some(Command::BenchSign { seconds }) => bench_sign(&config, seconds),
            }
        });
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("amazonpay2-server: {e}");
                ExitCode::FAILURE
            }
        }
    }

    /// Ctrl-C or SIGTERM (a service manager's stop): both drain the requests in flight.
    async fn stop_signal() {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
    }

    async fn run(config: Config) -> Result<(), ServerError> {
        let shop = server::bind(config.listen).await?;
        match config.demo.clone() {
            Some(demo) => {
                let simulator = server::bind(demo.simulator_listen).await?;
                println!("デモ: {}/ をブラウザーで開いてください (demo shop)", config.shop_origin.as_str());
                amazonpay2::demo::serve(config, shop, simulator, stop_signal()).await
            }
            None => {
                let state = server::start(config).await?;
                server::serve(state, shop, axum::Router::new(), stop_signal()).await
            }
        }
    }

    async fn start(config: Config) -> Result<std::sync::Arc<server::AppState>, ServerError> {
        if config.demo.is_some() { amazonpay2::demo::start(config).await } else { server::start(config).await }
    }

    async fn subscriptions(config: Config, date: Option<&str>) -> Result<(), ServerError> {
        let today = match date {
            Some(text) => time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| ServerError::Job(format!("--date {text}: use YYYY-MM-DD")))?,
            None => today_in_japan(),
        };
        let state = start(config).await?;
        let cycles = state.core.run_subscriptions(today).await.map_err(|e| ServerError::Job(e.to_string()))?;
        for cycle in &cycles {
            println!(
                "subscription {} cycle {}: order {} {}",
                cycle.subscription_id,
                cycle.date,
                cycle.order_number,
                cycle.state.name()
            );
        }
        println!("{} subscription cycle(s) due on or before {today}", cycles.len());
        Ok(())
    }

    async fn reconcile(config: Config) -> Result<(), ServerError> {
        let state = start(config).await?;
        let report = state.core.reconcile().await.map_err(|e| ServerError::Job(e.to_string()))?;
        println!("examined {} order(s): {} settled, {} to try again", report.examined, report.settled, report.failed);
        Ok(())
    }

    async fn simulator(config: Config) -> Result<(), ServerError> {
        let listen = config.simulator_listen;
        let listener = server::bind(listen).await?;
        let key = server::load_key(&config)?;
        let simulator = amazonpay2::demo::simulator(&config, &key);
        println!("Amazon Pay simulator on http://{listen}/ for the shop {}", config.shop_origin.as_str());
        axum::serve(listener, simulator.router())
            .with_graceful_shutdown(stop_signal())
            .await
            .map_err(ServerError::Serve)
    }

    async fn db(config: Config, command: DbCommand) -> Result<(), ServerError> {
        match command {
            DbCommand::Migrate => {
                let (name, version) = match &config.database_url {
                    Some(url) => ("PostgreSQL", Postgres::open(url.as_str()).await?.schema_version().await?),
                    None => {
                        server::open_database(&config).await?;
                        ("SQLite", amazonpay2::storage::postgres::SCHEMA_VERSION)
                    }
                };
                println!("{name} database at schema version {version}");
                Ok(())
            }
            DbCommand::Copy { from, to, replace } => {
                let Some(to) = to.or_else(|| config.database_url.as_ref().map(|url| url.as_str().to_owned())) else {
                    return Err(ServerError::Job(
                        "db copy: give --to postgres://… or set AMAZONPAY2_DATABASE_URL".into(),
                    ));
                };
                DatabaseUrl::parse(&to)?;
                let copied = copy_from_sqlite(&from, &to, replace).await?;
                println!("{:<22} {:>10} {:>10}", "table", "SQLite", "PostgreSQL");
                for table in &copied {
                    println!("{:<22} {:>10} {:>10}", table.table, table.source, table.target);
                }
                let rows: u64 = copied.iter().map(|t| t.target).sum();
                println!("copied {rows} row(s) in {} table(s); every count matches", copied.len());
                Ok(())
            }
        }
    }

    /// Signs distinct payloads on this one thread for `seconds` and prints the rate.
    fn bench_sign(config: &Config, seconds: u64) -> Result<(), ServerError> {
        let key = std::sync::Arc::new(server::load_key(config)?);
        let signer = ButtonSigner::new(key, config.amazon.public_key_id.clone());
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut count = 0u64;
        while Instant::now() < deadline {
            let payload = format!("{{\"storeId\":\"bench\",\"n\":{count}}}");
            signer.sign_uncached(&payload).map_err(|e| ServerError::Job(e.to_string()))?;
            count += 1;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let rate = count as f64 / elapsed;
        println!("sign_uncached: {count} signatures in {elapsed:.2} s = {rate:.1} signs/s (1 core)");
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
