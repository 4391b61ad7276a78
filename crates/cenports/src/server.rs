//! The long-running hub: `cenports serve`.
//!
//! Build, then run (house style): [`App::build`] does all the fallible wiring (database,
//! migrations, the secrets key, the router, the queue), and [`App::serve`] runs until the
//! shutdown future resolves:
//!
//! - the HTTP server: the webhook receiver ([`crate::webhooks::receiver`]) at
//!   `/webhooks/{channel}/{store_id}`, and [`router`]: the REST API with `/healthz`,
//!   `/readyz` and `/metrics` ([`crate::http::router`], `docs/API.md`) merged with the
//!   dashboard and sign-in ([`crate::web::router`], `docs/DASHBOARD.md`);
//! - its membership of the fleet ([`crate::fleet`]): the heartbeat that renews, gives back and
//!   takes store leases, so that several processes on one database split the stores; the
//!   roles below work only the stores whose lease this process holds;
//! - the job worker ([`crate::webhooks::worker`]) turning queued callbacks into targeted
//!   fetches, or walks when a store's backlog is too long;
//! - the fulfilment outbox worker ([`crate::fulfilment::worker::run`]) delivering shipments
//!   and status changes exactly once;
//! - the queue reader ([`crate::webhooks::queue`]) of each channel whose notifications go to a
//!   queue the operator configured (Amazon's `ORDER_CHANGE`), queueing the same jobs as the
//!   webhook receiver;
//! - the event dispatcher ([`crate::events::dispatcher`]) delivering events to the merchants'
//!   subscriptions (the warehouses' systems) from the database queue;
//! - the sync scheduler ([`crate::sync::scheduler`]), polling every store and reconciling it
//!   periodically, unless [`ServeOptions::poll`] is off;
//! - the webhook health check ([`crate::webhooks::registration::repair_all`]) when a public URL
//!   is configured: at start (so stores connected before the URL was set get their hooks) and
//!   every [`ServeOptions::hook_check_interval`];
//! - the sweep of expired webhook receipts.
//!
//! [`run_workers`] (`cenports worker`) runs the same roles without a listener (the membership,
//! the job worker, the outbox worker and the scheduler), for operators who run several
//! processes on one database; `serve` spawns them through the same function.
//!
//! Shutdown stops accepting connections, lets requests in flight finish, stops the scheduler
//! (safe: pages commit with their checkpoints), lets the workers finish the jobs and deliveries
//! they started, and only then gives the store leases back, so the next holder starts after
//! this process has stopped sending. Queued jobs stay in the database for the next holder.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use futures::FutureExt;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use tokio::net::TcpListener;

use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinSet;

use crate::channel::Channels;
use crate::config::Settings;
use crate::edge::auth::cookies_must_be_secure;
use crate::fleet::Fleet;
use crate::fulfilment::worker::run as run_outbox;
use crate::service::AppState;
use crate::storage::Storage;
use crate::sync::scheduler::{run_scheduler_with, SchedulerConfig};
use crate::webhooks::queue::QueueReader;
use crate::webhooks::receiver::{self, ReceiverState};
use crate::webhooks::registration::repair_all;
use crate::webhooks::worker::{run_worker, Processed, WorkerConfig, WorkerContext};
use crate::webhooks::MAX_HINTS_PER_STORE;
use crate::{http, web};

/// Time between webhook health checks when nothing else is configured.
pub const DEFAULT_HOOK_CHECK_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Time between sweeps of expired webhook receipts.
pub const RECEIPT_SWEEP_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// The hub's two HTTP surfaces on one router, over one state: the JSON API with the
/// operational routes ([`http::router`]) and the dashboard with sign-in and sign-out
/// ([`web::router`]). `/api/v1/openapi.json` serves [`openapi`]. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so that login throttling sees the
/// client's address; it sets no fallback, so it can be merged with other routes.
pub fn router(state: AppState) -> Router {
    http::router(state.clone(), &openapi()).merge(web::router(state))
}

/// The OpenAPI document of everything a script may call: the API's routes
/// ([`http::openapi`]) and the dashboard's sign-in and sign-out ([`web::openapi`]), each
/// documented where it is handled.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = http::openapi();
    document.merge(web::openapi());
    document
}

/// How `serve` runs, beyond [`Settings`].
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Run the sync scheduler (polling and reconciliation). Off: webhooks only.
    pub poll: bool,
    /// The scheduler's configuration (interval, concurrency, sync options, reconciliation).
    pub scheduler: SchedulerConfig,
    /// The job worker's configuration.
    pub worker: WorkerConfig,
    /// Hints one store may have waiting before the receiver queues a walk instead.
    pub max_hints_per_store: i64,
    /// Time between webhook health checks (only with a public URL).
    pub hook_check_interval: Duration,
    /// The fulfilment outbox worker (shipments and status changes to the channel).
    pub outbox: crate::fulfilment::worker::WorkerConfig,
    /// The event dispatcher (events to the warehouses' systems); its owner is set to the
    /// process's fleet id when it starts.
    pub events: crate::events::dispatcher::DispatcherConfig,
}

impl ServeOptions {
    /// What production uses: polling on at the settings' interval, hourly reconciliation,
    /// the default queue and worker, a health check every 15 minutes.
    pub fn from_settings(settings: &Settings) -> Self {
        ServeOptions {
            poll: true,
            scheduler: SchedulerConfig::from_settings(settings),
            worker: WorkerConfig::default(),
            max_hints_per_store: MAX_HINTS_PER_STORE,
            hook_check_interval: DEFAULT_HOOK_CHECK_INTERVAL,
            outbox: crate::fulfilment::worker::WorkerConfig::from_settings(settings),
            events: crate::events::dispatcher::DispatcherConfig::new(
                "",
                crate::events::Destinations {
                    allow_private: settings.events_allow_private_networks,
                },
            ),
        }
    }
}

/// The hub, wired and ready to serve.
pub struct App {
    settings: Settings,
    storage: Storage,
    channels: Channels,
    options: ServeOptions,
    router: Router,
    /// The state of the API and the dashboard ([`router`]), merged into the router when the
    /// listener's address is known (it decides `Secure` cookies).
    api: AppState,
    fleet: Fleet,
    wake: Arc<Notify>,
    processed: broadcast::Sender<Processed>,
    setup_token: Option<SecretString>,
}

impl App {
    /// Opens the database (running migrations), loads the secrets key and builds the router
    /// and the queue. Fails before anything listens.
    pub async fn build(settings: &Settings, mut options: ServeOptions) -> Result<App> {
        let storage = Storage::open(&settings.database_url)
            .await
            .context("could not open the database")?;
        // One registry for all of the process's tasks: the key read once, one client and one
        // rate limiter per store (`docs/HARD-PROBLEMS.md` note 3).
        let channels = settings.channels()?;
        // The process's membership of the fleet, shared by every role that works a store.
        let fleet = Fleet::new(
            "serve",
            settings.lease_period,
            options.scheduler.interval,
            options.poll,
        );
        let wake = Arc::new(Notify::new());
        let (processed, _) = broadcast::channel(4096);
        // One "already syncing" guard and one set of counters for the API's triggers and the
        // scheduler: a trigger during a scheduled sync answers `already_running`, and the
        // scheduler's clients report the quota they see to `/metrics`.
        let mut api = AppState::new(storage.clone(), settings.clone(), channels.clone())
            .with_syncs_in_progress(options.scheduler.in_progress.clone())
            .with_fleet(fleet.clone(), wake.clone());
        options.scheduler.metrics = api.metrics().clone();
        // First run: nobody can sign in yet, so whoever holds this one-time token (printed by
        // `cenports serve`, never logged) may create the first operator at /setup.
        let setup_token = if storage
            .any_account_can_sign_in()
            .await
            .context("could not read the accounts")?
        {
            None
        } else {
            let token = crate::accounts::tokens::random_token();
            api = api.with_setup_token(SecretString::from(token.clone()));
            Some(SecretString::from(token))
        };
        let metrics = api.metrics().clone();
        // Every callback's outcome is counted for `/metrics`.
        let router = receiver::router(
            ReceiverState::new(storage.clone(), channels.clone(), wake.clone())
                .with_max_hints(options.max_hints_per_store),
        )
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let metrics = metrics.clone();
                async move {
                    let response = next.run(request).await;
                    metrics.record_webhook_receipt(receiver::receipt_outcome(&response));
                    response
                }
            },
        ));
        Ok(App {
            settings: settings.clone(),
            storage,
            channels,
            options,
            router,
            api,
            fleet,
            wake,
            processed,
            setup_token,
        })
    }

    /// The first-run setup's path with its one-time token (`/setup?token=…`), when no account
    /// could sign in as the hub started; `cenports serve` prints it with its address.
    pub fn setup_path(&self) -> Option<String> {
        self.setup_token
            .as_ref()
            .map(|token| format!("/setup?token={}", token.expose_secret()))
    }

    /// The database handle (tests and the benchmark read the hub through it).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The process's channel registry (its clients and limiters).
    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// The process's membership of the fleet.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// Finished webhook jobs, from now on (the benchmark times latency with it).
    pub fn processed(&self) -> broadcast::Receiver<Processed> {
        self.processed.subscribe()
    }

    /// Adds routes to the server (the dashboard and REST API of a later issue).
    pub fn merge(mut self, routes: Router) -> App {
        self.router = self.router.merge(routes);
        self
    }

    /// Serves on `listener` until `shutdown` resolves, with the background tasks of the module
    /// docs. Returns when everything has stopped.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let App {
            settings,
            storage,
            channels,
            options,
            router,
            api,
            fleet,
            wake,
            processed,
            setup_token: _,
        } = self;
        let local = listener
            .local_addr()
            .context("the listener has no local address")?;
        let public_https = settings
            .public_url
            .as_ref()
            .is_some_and(|url| url.scheme() == "https");
        let api = api.with_secure_cookies(cookies_must_be_secure(local, public_https));
        let router = router.merge(self::router(api));
        let (stop, stopped) = watch::channel(false);
        let wait = stop_requested;
        let mut tasks = JoinSet::new();

        let roles = Roles {
            storage: storage.clone(),
            channels: channels.clone(),
            fleet,
            wake,
            observer: Some(processed),
        };
        let membership = roles.spawn(&mut tasks, &options, &stopped);

        if settings.public_url.is_some() {
            let (public_url, storage, channels) = (
                settings.public_url.clone(),
                storage.clone(),
                channels.clone(),
            );
            let (every, mut shutdown) = (options.hook_check_interval, stopped.clone());
            tasks.spawn(async move {
                let mut ticker = tokio::time::interval(every.max(Duration::from_millis(100)));
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = shutdown.wait_for(|stop| *stop) => break,
                        _ = ticker.tick() => {}
                    }
                    if let Err(error) = repair_all(&storage, &channels, public_url.as_ref()).await {
                        tracing::warn!(error = %format!("{error:#}"), "serve: webhook health check failed");
                    }
                }
            });
        }

        {
            let (storage, mut shutdown) = (storage.clone(), stopped.clone());
            tasks.spawn(async move {
                let mut ticker = tokio::time::interval(RECEIPT_SWEEP_INTERVAL);
                loop {
                    tokio::select! {
                        _ = shutdown.wait_for(|stop| *stop) => break,
                        _ = ticker.tick() => {}
                    }
                    match storage.purge_webhook_receipts(chrono::Utc::now()).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::debug!(webhooks.purged = n, "serve: expired receipts purged")
                        }
                        Err(error) => {
                            tracing::warn!(error = %error, "serve: could not purge receipts")
                        }
                    }
                }
            });
        }

        tracing::info!(
            listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            poll = options.poll,
            webhooks = settings.public_url.is_some(),
            "serve: listening"
        );
        let server_stop = stopped.clone();
        // The peer address feeds the API's login throttling.
        let result = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = shutdown => {}
                _ = wait(server_stop) => {}
            }
        })
        .await;
        let _ = stop.send(true);
        while tasks.join_next().await.is_some() {}
        // Only now that nothing works a store any more: give the leases back.
        membership.stop().await;
        tracing::info!("serve: stopped");
        result.context("the HTTP server failed")
    }
}

/// Resolves once `true` is sent on the stop channel (or its sender is gone).
async fn stop_requested(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// The membership's heartbeat task, stopped after every role has stopped.
struct Membership {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Membership {
    /// Stops the heartbeat and gives every lease back.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// What the roles of a process share.
struct Roles {
    storage: Storage,
    channels: Channels,
    fleet: Fleet,
    wake: Arc<Notify>,
    observer: Option<broadcast::Sender<Processed>>,
}

impl Roles {
    /// Spawns the roles that need no HTTP listener, shared by [`App::serve`] and
    /// [`run_workers`], and the fleet membership they work under (returned; stop it after the
    /// roles):
    ///
    /// - the job worker: webhook hints, walks and API-asked syncs of the held stores, from the
    ///   database queue;
    /// - the fulfilment outbox worker: shipments and status changes of the held stores,
    ///   recorded by `cenports ship` / `order-status`, the API or the dashboard (any process on
    ///   the same database); leases on the rows keep two processes from sending one twice;
    /// - the event dispatcher: events to the merchants' subscriptions, from the database queue;
    /// - a queue reader per channel with a configured notification queue (Amazon's
    ///   `ORDER_CHANGE`), queueing jobs as the webhook receiver does;
    /// - the sync scheduler (polling, reconciliation, and the stock push after each sync) of
    ///   the held stores, when [`ServeOptions::poll`] is on.
    ///
    /// All take their clients from the process's [`Channels`], so one process paces all its
    /// requests to a store together, and the fleet's leases make it the only one.
    fn spawn(
        self,
        tasks: &mut JoinSet<()>,
        options: &ServeOptions,
        stopped: &watch::Receiver<bool>,
    ) -> Membership {
        let (stop, member_stopped) = tokio::sync::oneshot::channel::<()>();
        let membership = {
            let (fleet, storage) = (self.fleet.clone(), self.storage.clone());
            tokio::spawn(async move {
                fleet
                    .run(storage, async {
                        let _ = member_stopped.await;
                    })
                    .await
            })
        };

        let in_progress = options.scheduler.in_progress.clone();
        let context = WorkerContext {
            storage: self.storage.clone(),
            channels: self.channels.clone(),
            fleet: self.fleet.clone(),
            in_progress,
            wake: self.wake.clone(),
            observer: self.observer.clone(),
        };
        tasks.spawn(run_worker(
            context,
            options.worker.clone(),
            stop_requested(stopped.clone()),
        ));

        {
            let (channels, storage) = (self.channels.clone(), self.storage.clone());
            let mut config = options.outbox.clone();
            config.fleet = Some(self.fleet.clone());
            let shutdown = stop_requested(stopped.clone());
            tasks.spawn(async move {
                let report = run_outbox(&storage, &channels, &config, shutdown).await;
                tracing::info!(outbox = ?report, "serve: the outbox worker stopped");
            });
        }

        {
            // Events for the warehouses' systems, from the database queue (any process may
            // deliver any subscription's; the claims keep two from sending one at once).
            let mut config = options.events.clone();
            config.owner = self.fleet.id().to_string();
            let (storage, secret_box) = (self.storage.clone(), self.channels.secret_box().clone());
            let shutdown = stop_requested(stopped.clone());
            tasks.spawn(async move {
                let report =
                    crate::events::dispatcher::run(storage, secret_box, config, shutdown).await;
                tracing::info!(events = ?report, "serve: the event dispatcher stopped");
            });
        }

        for channel in self.channels.all() {
            // Notifications a channel sends to a queue (Amazon's), read by every process: a
            // queue hands each message to one reader at a time.
            let Some(queue) = channel.queue() else {
                continue;
            };
            let reader = QueueReader {
                storage: self.storage.clone(),
                channel: channel.clone(),
                queue,
                wake: self.wake.clone(),
                max_hints: options.max_hints_per_store,
            };
            tasks.spawn(reader.run(stop_requested(stopped.clone())).map(|_| ()));
        }

        if options.poll {
            let (channels, storage) = (self.channels.clone(), self.storage.clone());
            let mut config = options.scheduler.clone();
            config.fleet = Some(self.fleet.clone());
            let shutdown = stop_requested(stopped.clone());
            tasks.spawn(async move {
                if let Err(error) = run_scheduler_with(&storage, &channels, config, shutdown).await
                {
                    tracing::error!(error = %format!("{error:#}"), "serve: the scheduler stopped");
                }
            });
        }
        Membership {
            stop,
            task: membership,
        }
    }
}

/// The worker role (`cenports worker`): the fleet membership, the job worker, the outbox
/// worker and, unless [`ServeOptions::poll`] is off, the sync scheduler, without an HTTP
/// listener, until `shutdown` resolves. For operators who run several processes on one
/// database: `serve` (receiver, API, pages, and the same roles) and any number of these; the
/// stores are split between them by their leases (`docs/OPERATIONS.md`, "Several processes").
///
/// The secrets key is checked before anything starts, so a worker without it fails at once
/// instead of failing every delivery. Shutdown stops the scheduler between pages, lets the
/// workers finish the jobs and deliveries they started, then gives the leases back. Returns
/// when everything has stopped.
pub async fn run_workers(
    settings: &Settings,
    storage: &Storage,
    options: &ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let channels = settings.channels()?;
    let fleet = Fleet::new(
        "worker",
        settings.lease_period,
        options.scheduler.interval,
        options.poll,
    );
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let roles = Roles {
        storage: storage.clone(),
        channels,
        fleet: fleet.clone(),
        wake: Arc::new(Notify::new()),
        observer: None,
    };
    let membership = roles.spawn(&mut tasks, options, &stopped);
    tracing::info!(poll = options.poll, fleet.process = %fleet.id(), "worker: running");
    shutdown.await;
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    membership.stop().await;
    tracing::info!("worker: stopped");
    Ok(())
}
