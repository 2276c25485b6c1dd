//! Command-line arguments and what each subcommand does.

mod oci;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use berth::Result;
use berth::config::Config;
use berth::server;

/// berth — serve sandboxed WebAssembly plugins as MCP tools, resources and prompts.
///
/// Every `*.wasm` component in the plugins folder is loaded at start. Clients
/// connect over Streamable HTTP (`berth serve`, endpoint /mcp) or stdio
/// (`berth stdio`), speaking MCP 2026-07-28 or the 2025 revisions.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about)]
pub struct Args {
    #[command(subcommand)]
    command: Command,

    /// Log filter for stderr, e.g. `info`, `debug`, `berth=debug,warn`
    /// (default: `info`, or the RUST_LOG environment variable).
    #[arg(long, global = true, env = "BERTH_LOG")]
    log: Option<String>,

    /// Log format on stderr: `human` (text) or `json` (one object per line, for log shippers).
    #[arg(long, global = true, env = "BERTH_LOG_FORMAT", default_value = "human", value_parser = ["human", "json"])]
    log_format: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the plugins over Streamable HTTP at http://ADDR/mcp and WebSocket at
    /// ws://ADDR/ws (plus /healthz, /readyz and /metrics).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free port.
        /// A non-loopback address needs auth (auth.tokens, BERTH_AUTH_TOKENS or auth.oauth).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Serve a non-loopback address without auth (only behind a proxy that authenticates).
        #[arg(long)]
        allow_unauthenticated: bool,
    },
    /// Serve the plugins over stdin/stdout (newline-delimited JSON-RPC), for clients that spawn berth.
    Stdio {
        #[command(flatten)]
        common: Common,
        /// Who the client on stdin is, for access rules (`[[access.rules]] identities`), quota
        /// overrides and the audit trail. Without it, the client is anonymous: once any access
        /// rule exists it may use only what rules with `anyone = true` grant.
        #[arg(long, value_name = "NAME")]
        identity: Option<String>,
    },
    /// Create a new plugin project from a template (`--lang rust`, `python`, `js`, `ts` or `c`).
    New {
        /// The plugin's name: lower-case letters, digits, `-` and `_`.
        name: String,
        /// The language of the template: rust, python, js (JavaScript), ts (TypeScript) or c.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// Where to create the project [default: ./NAME].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Depend on the berth-sdk crate in DIR instead of a copy of this berth's SDK in the
        /// project's `berth-sdk/` (Rust only; for work on the SDK itself).
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// Measure in-process dispatch latency of one tool: p50/p99/max and calls/s.
    ///
    /// Each call is parsed, routed and run the way a request is once its bytes
    /// arrived (no socket), on a fresh or warm instance as the plugin's
    /// sidecar says. For end-to-end load over HTTP or WebSocket use the load
    /// generator (`cargo run --release -p berth-benches --bin berth-load`).
    /// With traces configured (`[telemetry]`, `OTEL_*`) every call is traced as a
    /// request would be: what tracing costs per call.
    Bench {
        #[command(flatten)]
        common: Common,
        /// The tool to call.
        #[arg(long)]
        tool: String,
        /// The tool's arguments as a JSON object.
        #[arg(long, value_name = "JSON", default_value = "{}")]
        args: String,
        /// Measured calls.
        #[arg(long, default_value_t = 10_000)]
        calls: u64,
        /// Unmeasured calls made first.
        #[arg(long, default_value_t = 1_000)]
        warmup: u64,
        /// Calls running at once.
        #[arg(long, default_value_t = 1)]
        concurrency: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pull a plugin from an OCI registry into the plugins folder.
    ///
    /// REF is oci://HOST[:PORT]/REPO:TAG or oci://HOST[:PORT]/REPO@sha256:DIGEST. The
    /// component is written whole (a running berth hot-loads it) as NAME.wasm, and cached
    /// by digest. With trusted keys (--trusted-key, or plugins.trusted_keys in the config
    /// file) the artifact must carry a cosign signature one of them verifies. Credentials:
    /// BERTH_REGISTRY_USER and BERTH_REGISTRY_PASSWORD, else the Docker config file.
    Pull {
        /// The artifact: oci://HOST[:PORT]/REPO:TAG or …@sha256:DIGEST.
        #[arg(value_name = "REF")]
        reference: String,
        /// Folder to install into [default: plugins, or the config file's].
        #[arg(long, value_name = "DIR")]
        plugins: Option<PathBuf>,
        /// File name in the folder, without .wasm [default: the repository's last part].
        #[arg(long)]
        name: Option<String>,
        /// Talk to the registry over plain HTTP (a local registry without TLS).
        #[arg(long)]
        plain_http: bool,
        /// A cosign public key (PEM) the signature must verify with; repeatable.
        #[arg(long = "trusted-key", value_name = "FILE")]
        trusted_keys: Vec<PathBuf>,
        /// Accept an artifact without a signature although trusted keys are set.
        #[arg(long)]
        allow_unsigned: bool,
        /// TOML config file (for plugins.dir, trusted_keys and cache_dir).
        #[arg(long, value_name = "FILE", env = "BERTH_CONFIG")]
        config: Option<PathBuf>,
        /// Folder for the artifact cache [default: $XDG_CACHE_HOME/berth or ~/.cache/berth].
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Push a plugin component to an OCI registry as a Wasm artifact.
    ///
    /// The artifact uses the CNCF Wasm OCI layout (config application/vnd.wasm.config.v0+json,
    /// one application/wasm layer), which wkg and ORAS read too. Prints the digest to pin.
    Push {
        /// The component (.wasm) to push.
        file: PathBuf,
        /// Where: oci://HOST[:PORT]/REPO:TAG.
        #[arg(value_name = "REF")]
        reference: String,
        /// Talk to the registry over plain HTTP (a local registry without TLS).
        #[arg(long)]
        plain_http: bool,
        /// Sign the pushed digest with this private key (cosign's encrypted key, with its
        /// password in COSIGN_PASSWORD, or an unencrypted PKCS#8/SEC1 P-256 PEM key).
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
    },
    /// Load the plugins and print what each one offers.
    List {
        #[command(flatten)]
        common: Common,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Options every subcommand takes.
#[derive(Debug, clap::Args)]
struct Common {
    /// Folder of plugin components (`*.wasm`) [default: plugins].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
    /// TOML config file; command-line options override it (see docs/configuration.md).
    #[arg(long, value_name = "FILE", env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
    /// Folder for compiled plugins [default: $XDG_CACHE_HOME/berth or ~/.cache/berth].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every plugin at start instead of using the compiled-plugin cache.
    #[arg(long)]
    no_cache: bool,
    /// Do not watch the plugins folder (by default new, changed and removed
    /// plugins are loaded, swapped and dropped while serving).
    #[arg(long)]
    no_watch: bool,
    /// Include tool-call arguments in the debug call spans (off: only their
    /// size is logged, since arguments may carry secrets).
    #[arg(long)]
    log_arguments: bool,
    /// Run as one replica of a cluster sharing state in Redis: redis://HOST:PORT[/DB], or
    /// redis+sentinel://HOST:PORT[,HOST:PORT…]/SERVICE to follow failovers (cluster.redis_url).
    /// Needs the shared secret in BERTH_CLUSTER_SECRET or cluster.secret.
    #[arg(long, value_name = "URL", env = "BERTH_REDIS_URL")]
    redis: Option<String>,
    /// This replica's name in logs and /readyz [default: host name and port].
    #[arg(long, value_name = "NAME")]
    replica_id: Option<String>,
}

impl Common {
    fn config(&self) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(plugins) = &self.plugins {
            config.plugins.dir = plugins.clone();
        }
        if let Some(dir) = &self.cache_dir {
            config.cache_dir = Some(dir.clone());
        }
        config.log.arguments |= self.log_arguments;
        if let Some(url) = &self.redis {
            config.cluster.redis_url = Some(url.clone());
        }
        if let Some(id) = &self.replica_id {
            config.cluster.replica_id = Some(id.clone());
        }
        if let Ok(secret) = std::env::var("BERTH_CLUSTER_SECRET")
            && !secret.is_empty()
        {
            config.cluster.secret = Some(secret);
        }
        config.validate()?;
        Ok(config)
    }
}

/// Says on stdout what `serve` loaded and where it listens.
///
/// Written without `println!`: a launcher that reads up to the "listening" line and then
/// closes its end of the pipe (a script, a benchmark harness) must not make the server panic
/// on the next line and die. What cannot be written is dropped; the server serves on.
fn announce(loaded: &[String], addr: SocketAddr) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for line in loaded {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "berth listening on http://{addr}/mcp");
    let _ = writeln!(out, "berth WebSocket on ws://{addr}/ws");
    let _ = out.flush();
}

/// Sends logs to stderr, never stdout: stdout belongs to the stdio transport. A server
/// (`serve`, `stdio`) also traces, when its config file or the `OTEL_*` variables say so, and
/// so does `bench` (what tracing costs a call is measured with it).
pub fn init_logging(args: &Args) {
    let filter = args.log.clone().or_else(|| std::env::var("RUST_LOG").ok()).unwrap_or_else(|| "info".to_owned());
    let telemetry = match &args.command {
        Command::Serve { common, .. } | Command::Stdio { common, .. } | Command::Bench { common, .. } => Some(
            // A config file that does not load is reported when the command reads it.
            common.config.as_deref().and_then(|path| Config::from_file(path).ok()).unwrap_or_default().telemetry,
        ),
        _ => None,
    };
    berth::init_logging(&filter, args.log_format == "json", telemetry.as_ref());
}

/// Runs the chosen subcommand.
pub async fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Serve { common, listen, allow_unauthenticated } => {
            let mut config = common.config()?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            config.auth.allow_unauthenticated |= allow_unauthenticated;
            // Refuse an exposed address without auth before compiling anything.
            server::check_exposure(config.listen, &config.auth)?;
            // Bind first: a busy port should fail before plugins are compiled.
            let listener = server::bind(config.listen).await?;
            if let Ok(bound) = listener.local_addr() {
                config.cluster.replica_id = Some(config.cluster.replica_name(Some(bound.port())));
            }
            oci::sync_sources(&config, true).await?;
            if !common.no_watch {
                oci::resync_on_hangup(common.config.clone(), config.clone());
            }
            let exchange = server::build(&config, !common.no_cache, !common.no_watch).await?;
            server::reload_access_on_hangup(exchange.clone(), common.config.clone());
            // From before it says it serves: a stop signal from then on drains it, never kills it.
            let signals = server::StopSignals::listen()?;
            let addr = listener.local_addr().map_err(|source| berth::Error::Io { what: "listener".into(), source })?;
            announce(&berth::loaded(&exchange), addr);
            let served = server::serve_http_until(listener, exchange, &config, signals).await;
            berth::shutdown_telemetry().await;
            served
        }
        Command::Stdio { common, identity } => {
            let config = common.config()?;
            oci::sync_sources(&config, false).await?;
            if !common.no_watch {
                oci::resync_on_hangup(common.config.clone(), config.clone());
            }
            let exchange = server::build(&config, !common.no_cache, !common.no_watch).await?;
            server::reload_access_on_hangup(exchange.clone(), common.config.clone());
            let served = server::serve_stdio(exchange, &config, identity.as_deref()).await;
            berth::shutdown_telemetry().await;
            served
        }
        Command::New { name, lang, dir, sdk } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let created = berth::scaffold::create(&name, &lang, &dir, sdk.as_deref())?;
            println!("created {} ({lang} plugin {name})", dir.display());
            match lang.as_str() {
                "python" => println!(
                    "build it:  cd {} && ./build.sh   (needs: pip install componentize-py==0.25.1)",
                    dir.display()
                ),
                "js" | "javascript" | "ts" | "typescript" => {
                    println!("build it:  cd {} && npm install && npm run build", dir.display())
                }
                "c" => println!(
                    "build it:  cd {} && make   (needs clang for wasm32, a WASI libc, wit-bindgen 0.46, npx: see Makefile)",
                    dir.display()
                ),
                _ => println!("build it:  cd {} && cargo build --release --target wasm32-wasip2", dir.display()),
            }
            println!("install:   cp {} <plugins folder>/{name}.wasm", created.display());
            Ok(())
        }
        Command::Bench { common, tool, args, calls, warmup, concurrency, json } => {
            let config = common.config()?;
            let arguments: serde_json::Value = serde_json::from_str(&args)
                .map_err(|e| berth::Error::Config(format!("--args is not valid JSON: {e}")))?;
            if calls == 0 {
                return Err(berth::Error::Config("--calls must be at least 1".into()));
            }
            oci::sync_sources(&config, false).await?;
            let exchange = server::build(&config, !common.no_cache, false).await?;
            let plan = berth::bench::BenchPlan { tool, arguments, calls, warmup, concurrency };
            let report = berth::bench::run(exchange, &plan).await;
            berth::shutdown_telemetry().await;
            let mut report = report?;
            report.trace_spans = berth::trace_spans();
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            Ok(())
        }
        Command::Pull { reference, plugins, name, plain_http, trusted_keys, allow_unsigned, config, cache_dir } => {
            let mut loaded = match &config {
                Some(path) => Config::from_file(path)?,
                None => Config::default(),
            };
            if let Some(dir) = plugins {
                loaded.plugins.dir = dir;
            }
            if let Some(dir) = cache_dir {
                loaded.cache_dir = Some(dir);
            }
            let args = oci::PullArgs { reference, name, plain_http, trusted_keys, allow_unsigned };
            oci::pull(&loaded, args).await
        }
        Command::Push { file, reference, plain_http, sign } => {
            oci::push(&file, &reference, plain_http, sign.as_deref()).await
        }
        Command::List { common, json } => {
            let config = common.config()?;
            oci::sync_sources(&config, false).await?;
            let exchange = server::build(&config, !common.no_cache, false).await?;
            if json {
                println!("{}", berth::listing_json(&exchange));
            } else {
                print!("{}", berth::listing_text(&exchange));
            }
            Ok(())
        }
    }
}
