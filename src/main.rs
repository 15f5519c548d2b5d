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
    use amazonpay2::storage::copy::copy_from_sqlite;
    use amazonpay2::storage::{ItemOutcome, Store, sqlite_file};

    /// Amazon Pay (Checkout v2) for Craft Cart shops. Settings come from AMAZONPAY2_*
    /// environment variables; without them the server and every command refuse to start and
    /// name what is missing. The offline demo runs only with --demo.
    #[derive(Parser)]
    #[command(name = "amazonpay2-server", version)]
    struct Cli {
        /// Run the self-contained demo with the Amazon Pay simulator (settings not given take the
        /// demo's values). Before or after a command: `--demo capture` or `capture --demo`.
        #[arg(long, global = true)]
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
            /// Only the shop answering on this host (default: every shop).
            #[arg(long)]
            shop: Option<String>,
        },
        /// Settle orders left unsettled (a stopped server, an unreadable answer, a pending
        /// authorization) from what Amazon says.
        Reconcile {
            /// Only the shop answering on this host (default: every shop).
            #[arg(long)]
            shop: Option<String>,
        },
        /// Run the Amazon Pay simulator alone on AMAZONPAY2_SIMULATOR_LISTEN, trusting this
        /// shop's key, for several shop instances to share.
        Simulator,
        /// The database: bring its schema up to date, or move a shop from SQLite to PostgreSQL.
        Db {
            #[command(subcommand)]
            command: DbCommand,
        },
        /// The shop owner's admin accounts (separate from shop members).
        Admin {
            #[command(subcommand)]
            command: AdminCommand,
        },
        /// Capture (実売上) every authorized (仮売上) order, or those authorized at least --days
        /// days ago: the bulk capture of 「AmazonPay クレジット決済状況」 as a daily job. An order
        /// already captured is skipped; running it twice captures nothing twice.
        Capture {
            /// Only orders authorized at least this many days ago (an authorization lasts 30).
            #[arg(long)]
            days: Option<u32>,
            /// The name the orders' history records the captures under.
            #[arg(long, default_value = "capture-job")]
            owner: String,
            /// Only the shop answering on this host (default: every shop).
            #[arg(long)]
            shop: Option<String>,
        },
        /// The shops of this deployment, each known by its hosts (see README, "Many shops").
        Shop {
            #[command(subcommand)]
            command: ShopCommand,
        },
        /// The master key that seals every shop's private key in the database.
        Keys {
            #[command(subcommand)]
            command: KeysCommand,
        },
        /// The setup check of the shop answering on HOST (of every shop without one): keys
        /// accepted by Amazon and its environment, the clock's difference from Amazon's, the
        /// JavaScript origin and IPN URL to register in Seller Central (⑧ ⑨), and whether Amazon's
        /// notifications arrive. Exit status 0 only when all is well.
        Check {
            /// A host of the shop.
            host: Option<String>,
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

    #[derive(Subcommand)]
    enum ShopCommand {
        /// Make a shop answering on HOST… (lowercase host, port only when not the default) with
        /// its first owner account (password from the terminal or the first line of stdin). The
        /// first shop added is the one served so far from the AMAZONPAY2_* settings.
        Add {
            /// Its hosts.
            #[arg(required = true)]
            hosts: Vec<String>,
            /// Its first owner account's name.
            #[arg(long)]
            owner: String,
        },
        /// Every shop: its ID, state, hosts and Amazon account.
        List,
        /// Add or remove hosts of the shop answering on HOST.
        Hosts {
            /// A host of the shop.
            host: String,
            /// A host to add.
            #[arg(long)]
            add: Vec<String>,
            /// A host to remove.
            #[arg(long)]
            remove: Vec<String>,
        },
        /// Stop serving the shop answering on HOST (its hosts answer 404; its data stays).
        Disable {
            /// A host of the shop.
            host: String,
        },
        /// Serve a disabled shop again.
        Enable {
            /// A host of the shop.
            host: String,
        },
        /// Give the shop answering on HOST its Amazon keys, once Amazon accepts them (nothing is
        /// saved otherwise; the private key is stored sealed under the master key).
        Keys {
            /// A host of the shop.
            host: String,
            /// 出品者ID.
            #[arg(long)]
            merchant_id: String,
            /// Store ID.
            #[arg(long)]
            store_id: String,
            /// Public key ID.
            #[arg(long)]
            public_key_id: String,
            /// The private key file (.pem) of Seller Central's step ④.
            #[arg(long)]
            private_key: std::path::PathBuf,
            /// テスト (Sandbox) rather than 本番 (Live).
            #[arg(long)]
            sandbox: bool,
        },
    }

    #[derive(Subcommand)]
    enum KeysCommand {
        /// Seal every shop's secrets under the master key in --new instead of
        /// AMAZONPAY2_MASTER_KEY's, in one transaction; then point AMAZONPAY2_MASTER_KEY at it.
        RotateMaster {
            /// The new master key file (32 random bytes, owner-only).
            #[arg(long)]
            new: std::path::PathBuf,
        },
    }

    #[derive(Subcommand)]
    enum AdminCommand {
        /// Create the admin account NAME, or set its password (its sessions end). The password
        /// is read from the terminal (asked twice, not shown) or from the first line of stdin.
        Add {
            /// The account name: letters, digits, '.', '_', '-' or '@' (at most 64).
            name: String,
        },
    }

    pub fn main() -> ExitCode {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
            .init();
        let cli = Cli::parse();
        let result = tokio::runtime::Runtime::new().map_err(ServerError::Serve).and_then(|runtime| {
            // `db copy` names both databases on its command line: it is the one command that
            // reads no shop settings (AMAZONPAY2_DATABASE_URL at most, for a missing --to).
            if let Some(Command::Db { command: DbCommand::Copy { from, to, replace } }) = cli.command {
                return runtime.block_on(db_copy(&from, to, replace));
            }
            let config = Config::from_env(cli.demo)?;
            match cli.command {
                None => runtime.block_on(run(config)),
                Some(Command::Subscriptions { date, shop }) => {
                    runtime.block_on(subscriptions(config, date.as_deref(), shop.as_deref()))
                }
                Some(Command::Reconcile { shop }) => runtime.block_on(reconcile(config, shop.as_deref())),
                Some(Command::Simulator) => runtime.block_on(simulator(config)),
                Some(Command::Db { command: DbCommand::Migrate }) => runtime.block_on(db_migrate(config)),
                Some(Command::Db { command: DbCommand::Copy { .. } }) => unreachable!("handled above"),
                Some(Command::Admin { command: AdminCommand::Add { name } }) => {
                    runtime.block_on(admin_add(config, &name))
                }
                Some(Command::Capture { days, owner, shop }) => {
                    runtime.block_on(capture(config, days, &owner, shop.as_deref()))
                }
                Some(Command::Shop { command }) => runtime.block_on(shops::run(config, command)),
                Some(Command::Keys { command: KeysCommand::RotateMaster { new } }) => {
                    runtime.block_on(shops::rotate_master(config, &new))
                }
                Some(Command::Check { host }) => runtime.block_on(shops::check(config, host.as_deref())),
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
                let (name, password) = amazonpay2::server::admin::DEMO_ADMIN;
                println!(
                    "管理画面: {}/admin/ (管理者 {name} / パスワード {password}; demo admin account)",
                    config.shop_origin.as_str()
                );
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

    /// The shops a daily job runs for: the one answering on `host`, or every active shop with
    /// Amazon keys (the one shop of the settings on a deployment without shops).
    async fn job_shops(
        config: Config,
        host: Option<&str>,
    ) -> Result<Vec<std::sync::Arc<server::AppState>>, ServerError> {
        use amazonpay2::server::shops::Shops;
        let shops = Shops::new(start(config).await?).await?;
        if !shops.hosted() {
            return Ok(vec![shops.first().app.clone()]);
        }
        let tenants = match host {
            Some(host) => match shops.tenant(host).await {
                Ok(Some(tenant)) => vec![Ok(tenant)],
                Ok(None) => return Err(ServerError::Job(format!("--shop {host}: no active shop answers on it"))),
                Err(error) => vec![Err(error)],
            },
            None => shops.every_active().await.into_iter().map(|(_, tenant)| tenant).collect(),
        };
        let mut apps = Vec::new();
        for tenant in tenants {
            match tenant {
                Ok(tenant) if tenant.app.core.is_set_up() => apps.push(tenant.app),
                Ok(_) => {}
                // One shop that cannot be served does not stop the others.
                Err(error) => eprintln!("amazonpay2-server: {error}"),
            }
        }
        Ok(apps)
    }

    /// Runs `job` for each shop, each line of its output under the shop's origin when there are
    /// several; one shop's failure does not stop the others (the exit status says it).
    async fn for_each_shop<F, Fut>(shops: Vec<std::sync::Arc<server::AppState>>, job: F) -> Result<(), ServerError>
    where
        F: Fn(std::sync::Arc<server::AppState>) -> Fut,
        Fut: std::future::Future<Output = Result<(), ServerError>>,
    {
        let several = shops.len() > 1;
        let mut failed = 0;
        for app in shops {
            if several {
                println!("== {}", app.config.shop_origin.as_str());
            }
            if let Err(error) = job(app).await {
                eprintln!("amazonpay2-server: {error}");
                failed += 1;
            }
        }
        if failed > 0 { Err(ServerError::Job(format!("the job failed for {failed} shop(s) (above)"))) } else { Ok(()) }
    }

    async fn subscriptions(config: Config, date: Option<&str>, shop: Option<&str>) -> Result<(), ServerError> {
        let today = match date {
            Some(text) => time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| ServerError::Job(format!("--date {text}: use YYYY-MM-DD")))?,
            None => today_in_japan(),
        };
        for_each_shop(job_shops(config, shop).await?, |state| async move {
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
        })
        .await
    }

    async fn reconcile(config: Config, shop: Option<&str>) -> Result<(), ServerError> {
        for_each_shop(job_shops(config, shop).await?, |state| async move {
            let report = state.core.reconcile().await.map_err(|e| ServerError::Job(e.to_string()))?;
            println!(
                "examined {} order(s): {} settled, {} to try again",
                report.examined, report.settled, report.failed
            );
            Ok(())
        })
        .await
    }

    /// Reads the new password: twice from a terminal without echo, else one line of stdin.
    fn read_password() -> Result<String, ServerError> {
        use std::io::{BufRead, IsTerminal, Write};
        let stdin = std::io::stdin();
        let read_line = || -> Result<String, ServerError> {
            let mut line = String::new();
            stdin.lock().read_line(&mut line).map_err(|e| ServerError::Job(format!("reading the password: {e}")))?;
            Ok(line.trim_end_matches(['\r', '\n']).to_owned())
        };
        if !stdin.is_terminal() {
            return read_line();
        }
        let echo = |on: bool| {
            let _ = std::process::Command::new("stty").arg(if on { "echo" } else { "-echo" }).status();
        };
        echo(false);
        let ask = |prompt: &str| {
            eprint!("{prompt}");
            let _ = std::io::stderr().flush();
            let answer = read_line();
            eprintln!();
            answer
        };
        let first = ask("Password: ");
        let second = ask("Password (again): ");
        echo(true);
        let (first, second) = (first?, second?);
        if first != second {
            return Err(ServerError::Job("the two passwords differ; nothing changed".into()));
        }
        Ok(first)
    }

    async fn admin_add(config: Config, name: &str) -> Result<(), ServerError> {
        if !amazonpay2::server::admin::auth::valid_name(name) {
            return Err(ServerError::Job(format!(
                "'{name}': the account name must be 1 to 64 letters, digits, '.', '_', '-' or '@'"
            )));
        }
        let password = read_password()?;
        let db = server::open_database(&config).await?;
        let created = amazonpay2::server::admin::put_account(&db, name, &password)
            .await
            .map_err(|e| ServerError::Job(e.to_string()))?;
        if created {
            println!("created the admin account {name}");
        } else {
            println!("changed the password of the admin account {name} (its sessions ended)");
        }
        Ok(())
    }

    async fn capture(config: Config, days: Option<u32>, owner: &str, shop: Option<&str>) -> Result<(), ServerError> {
        for_each_shop(job_shops(config, shop).await?, |state| capture_shop(state, days, owner)).await
    }

    async fn capture_shop(
        state: std::sync::Arc<server::AppState>,
        days: Option<u32>,
        owner: &str,
    ) -> Result<(), ServerError> {
        use amazonpay2::server::admin::{BULK_CONCURRENCY, authorized_orders, bulk_item};
        let before = days.map(|days| amazonpay2::core::now() - i64::from(days) * 24 * 60 * 60);
        let orders = authorized_orders(&state.db, before).await?;
        let ids: Vec<_> = orders.iter().map(|o| o.order).collect();
        let numbers: std::collections::HashMap<_, _> = orders.into_iter().map(|o| (o.order, o.number)).collect();
        let started = Instant::now();
        let outcomes = state
            .core
            .capture_many(
                &ids,
                owner,
                BULK_CONCURRENCY,
                || async { true },
                |finished| {
                    for outcome in &finished {
                        let item = bulk_item(outcome, numbers.get(&outcome.order).map_or("", String::as_str));
                        println!("order {} {}: {}", item.number, item.outcome.name(), item.message);
                    }
                    async {}
                },
            )
            .await;
        let count = |kind: ItemOutcome| outcomes.iter().filter(|o| bulk_item(o, "").outcome == kind).count();
        let refused = count(ItemOutcome::Refused);
        println!(
            "{} order(s) in {:.1} s: {} captured, {} skipped, {refused} refused",
            outcomes.len(),
            started.elapsed().as_secs_f64(),
            count(ItemOutcome::Done),
            count(ItemOutcome::Skipped),
        );
        if refused > 0 {
            return Err(ServerError::Job(format!("{refused} order(s) were not captured (see above)")));
        }
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

    /// Brings the configured database's schema up to date and says which database it is.
    async fn db_migrate(config: Config) -> Result<(), ServerError> {
        match &config.database_url {
            Some(url) => {
                let version = Store::postgres(url.as_str()).await?.schema_version().await?;
                println!("PostgreSQL database at schema version {version}");
            }
            None => {
                let version = Store::sqlite(&config.data_dir).await?.schema_version().await?;
                println!("SQLite database {} at schema version {version}", sqlite_file(&config.data_dir).display());
            }
        }
        Ok(())
    }

    /// Copies a SQLite database into PostgreSQL (`--to`, else `AMAZONPAY2_DATABASE_URL`).
    async fn db_copy(from: &std::path::Path, to: Option<String>, replace: bool) -> Result<(), ServerError> {
        let to = to.or_else(|| std::env::var("AMAZONPAY2_DATABASE_URL").ok().filter(|url| !url.trim().is_empty()));
        let Some(to) = to else {
            return Err(ServerError::Job("db copy: give --to postgres://… or set AMAZONPAY2_DATABASE_URL".into()));
        };
        DatabaseUrl::parse(to.trim())?;
        let copied = copy_from_sqlite(from, to.trim(), replace).await?;
        println!("{:<22} {:>10} {:>10}", "table", "SQLite", "PostgreSQL");
        for table in &copied {
            println!("{:<22} {:>10} {:>10}", table.table, table.source, table.target);
        }
        let rows: u64 = copied.iter().map(|t| t.target).sum();
        println!("copied {rows} row(s) in {} table(s); every count matches", copied.len());
        Ok(())
    }

    /// Signs distinct payloads on this one thread for `seconds` and prints the rate.
    /// `shop …` and `keys rotate-master`: the registry of shops, changed in the database that
    /// every instance polls (a change is served within seconds, without a restart).
    mod shops {
        use amazonpay2::core::onboarding::{self, KeysEntry, Mode};
        use amazonpay2::core::settings::ShopHost;
        use amazonpay2::storage::shops::{PRIVATE_KEY, ShopAmazon, ShopState};
        use amazonpay2::storage::vault::{Binding, MasterKey};
        use amazonpay2::storage::{ShopId, Store};

        use super::{Config, ServerError, ShopCommand, read_password};

        fn host(given: &str) -> Result<ShopHost, ServerError> {
            ShopHost::parse(given).map_err(|problem| ServerError::Job(format!("host {problem}")))
        }

        fn hosts(given: &[String]) -> Result<Vec<ShopHost>, ServerError> {
            given.iter().map(|h| host(h)).collect()
        }

        async fn store(config: &Config) -> Result<Store, ServerError> {
            Ok(match &config.database_url {
                Some(url) => Store::postgres(url.as_str()).await?,
                None => Store::sqlite(&config.data_dir).await?,
            })
        }

        fn refused(refusal: impl std::fmt::Display) -> ServerError {
            ServerError::Job(format!("{refusal}; nothing changed"))
        }

        pub async fn run(config: Config, command: ShopCommand) -> Result<(), ServerError> {
            let db = store(&config).await?;
            match command {
                ShopCommand::Add { hosts: given, owner } => {
                    let hosts = hosts(&given)?;
                    if !amazonpay2::server::admin::auth::valid_name(&owner) {
                        return Err(ServerError::Job(format!(
                            "--owner '{owner}': the account name must be 1 to 64 letters, digits, '.', '_', '-' or '@'"
                        )));
                    }
                    let password = read_password()?;
                    let hash = amazonpay2::server::admin::auth::hash_password(&password)
                        .await
                        .map_err(|e| ServerError::Job(e.to_string()))?;
                    let added = db.add_shop(&hosts, &owner, &hash).await?.map_err(refused)?;
                    let names: Vec<&str> = hosts.iter().map(ShopHost::as_str).collect();
                    if added.adopted {
                        println!(
                            "shop {} (the shop served so far from the AMAZONPAY2_* settings) now answers on {}; owner {owner}",
                            added.id,
                            names.join(", ")
                        );
                    } else {
                        println!("shop {} answers on {}; owner {owner}", added.id, names.join(", "));
                    }
                    for host in &hosts {
                        println!("  {}  (JavaScript origin to register in Seller Central ⑧)", host.origin().as_str());
                        println!("  {}  (IPN URL ⑨)", host.origin().url(amazonpay2::core::paths::IPN));
                    }
                }
                ShopCommand::List => {
                    for shop in db.shops().await? {
                        let hosts: Vec<&str> = shop.hosts.iter().map(ShopHost::as_str).collect();
                        let amazon = match &shop.amazon {
                            Some(a) => format!(
                                "{} {} {} {} {}",
                                a.merchant_id,
                                a.store_id,
                                a.public_key_id,
                                if a.sandbox { "sandbox" } else { "live" },
                                a.key_fingerprint
                            ),
                            None if shop.id == ShopId::FIRST => "keys from the AMAZONPAY2_* settings".into(),
                            None => "no Amazon keys yet".into(),
                        };
                        println!("{}\t{}\t{}\t{amazon}", shop.id, shop.state.name(), hosts.join(" "));
                    }
                }
                ShopCommand::Hosts { host: of, add, remove } => {
                    let id = db.change_hosts(&host(&of)?, &hosts(&add)?, &hosts(&remove)?).await?.map_err(refused)?;
                    println!("shop {id}'s hosts changed");
                }
                ShopCommand::Disable { host: of } => {
                    let id = db.set_shop_state(&host(&of)?, ShopState::Disabled).await?.map_err(refused)?;
                    println!("shop {id} disabled: its hosts answer 404");
                }
                ShopCommand::Enable { host: of } => {
                    let id = db.set_shop_state(&host(&of)?, ShopState::Active).await?.map_err(refused)?;
                    println!("shop {id} served again");
                }
                ShopCommand::Keys { host: of, merchant_id, store_id, public_key_id, private_key, sandbox } => {
                    let of = host(&of)?;
                    let master = config.master_key()?;
                    let shop = db
                        .shops()
                        .await?
                        .into_iter()
                        .find(|shop| shop.hosts.contains(&of))
                        .ok_or_else(|| ServerError::Job(format!("no shop answers on {of}")))?;
                    let pem = zeroize::Zeroizing::new(
                        std::fs::read(&private_key)
                            .map_err(|e| ServerError::Job(format!("--private-key {}: {e}", private_key.display())))?,
                    );
                    let mode = if sandbox { Mode::Sandbox } else { Mode::Live };
                    let entry = KeysEntry { merchant_id, store_id, public_key_id, mode, private_key_pem: pem };
                    let accepted = onboarding::check_keys(&config.api_base, &of.origin(), &entry)
                        .await
                        .map_err(|wrong| ServerError::Job(format!("{}; nothing saved", wrong.message_en())))?;
                    let sealed = master
                        .seal(Binding { shop: shop.id.0, field: PRIVATE_KEY }, &entry.private_key_pem)
                        .map_err(|e| ServerError::Job(e.to_string()))?;
                    let account = &accepted.account;
                    let amazon = ShopAmazon {
                        merchant_id: account.merchant_id.clone(),
                        store_id: account.store_id.clone(),
                        public_key_id: account.public_key_id.clone(),
                        sandbox: account.sandbox,
                        key_fingerprint: accepted.fingerprint.clone(),
                    };
                    db.for_shop(shop.id).set_shop_amazon(&amazon, &sealed).await?;
                    println!(
                        "shop {}: Amazon accepted the keys ({}); private key {}",
                        shop.id,
                        mode.environment(),
                        accepted.fingerprint
                    );
                }
            }
            Ok(())
        }

        pub async fn check(config: Config, host: Option<&str>) -> Result<(), ServerError> {
            use amazonpay2::server::setup::SetupCheck;
            use amazonpay2::server::shops::Shops;
            let first = super::start(config).await?;
            let shops = Shops::new(first).await?;
            let tenants = match host {
                None => shops.every_active().await,
                Some(_) if !shops.hosted() => vec![(ShopId::FIRST, Ok(shops.first().clone()))],
                Some(host) => match shops.tenant(host).await {
                    Ok(Some(tenant)) => vec![(tenant.app.shop.unwrap_or(ShopId::FIRST), Ok(tenant))],
                    Ok(None) => return Err(ServerError::Job(format!("no active shop answers on {host}"))),
                    Err(error) => vec![(ShopId::FIRST, Err(error))],
                },
            };
            let mut all_well = true;
            for (shop, tenant) in tenants {
                let tenant = match tenant {
                    Ok(tenant) => tenant,
                    Err(error) => {
                        println!("shop {shop}: cannot be served: {error}");
                        all_well = false;
                        continue;
                    }
                };
                let check = SetupCheck::run(&tenant.app).await?;
                println!("shop {shop} ({})", tenant.app.config.shop_origin.as_str());
                for line in check.lines(false) {
                    println!("  [{}] {}: {}", if line.ok { "ok" } else { "!!" }, line.label, line.value);
                }
                all_well &= check.all_well();
            }
            if all_well { Ok(()) } else { Err(ServerError::Job("the setup check found problems (marked !!)".into())) }
        }

        pub async fn rotate_master(config: Config, new: &std::path::Path) -> Result<(), ServerError> {
            let old = config.master_key()?;
            let new = MasterKey::read(new).map_err(|e| ServerError::Job(format!("--new: {e}")))?;
            let db = store(&config).await?;
            let resealed = db
                .reseal_shop_secrets(|shop, field, sealed| {
                    new.reseal(&old, Binding { shop: shop.0, field }, sealed).map_err(|e| e.to_string())
                })
                .await?
                .map_err(|problem| ServerError::Job(format!("{problem}; nothing changed")))?;
            println!(
                "{resealed} secret(s) sealed under master key {} (was {}): now set AMAZONPAY2_MASTER_KEY to the new file",
                new.id(),
                old.id()
            );
            Ok(())
        }
    }

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
