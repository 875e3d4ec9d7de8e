//! Child processes: the context in the environment variables `TRACEPARENT`, `TRACESTATE` and
//! `BAGGAGE`, as OpenTelemetry's environment carriers name them.

use std::borrow::Cow;
use std::ffi::OsStr;

use super::{BAGGAGE, Extractor, Injector, TRACEPARENT, TRACESTATE, UNREADABLE, extract, inject};
use crate::context::TraceContext;

/// The W3C header names and the environment variables that carry them, uppercase as
/// OpenTelemetry's specification of environment carriers asks.
const VARS: [(&str, &str); 3] = [
    (TRACEPARENT, "TRACEPARENT"),
    (TRACESTATE, "TRACESTATE"),
    (BAGGAGE, "BAGGAGE"),
];

/// The variable for a header name (any case), by OpenTelemetry's rule: uppercase, every
/// character but letters, digits and `_` made `_`, and `_` before a leading digit. The three
/// W3C names need no allocation.
fn var_name(name: &str) -> Cow<'static, str> {
    if let Some((_, var)) = VARS.iter().find(|(h, _)| h.eq_ignore_ascii_case(name)) {
        return Cow::Borrowed(var);
    }
    let mut var: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if var.is_empty() || var.starts_with(|c: char| c.is_ascii_digit()) {
        var.insert(0, '_');
    }
    Cow::Owned(var)
}

// === impl Environment ===

/// A carrier made of environment variables: what a parent sets for a child process, or what a
/// process found in its own environment.
///
/// Header names map to variables as OpenTelemetry's environment carriers do (`traceparent` is
/// `TRACEPARENT`, `tracestate` is `TRACESTATE`, `baggage` is `BAGGAGE`), so a context written
/// here is read by OpenTelemetry SDKs' `EnvironmentGetter`, and theirs by [`extract_env`]. A
/// variable holds one value: there are no repeated headers. A value that is not UTF-8 is
/// reported as [`UNREADABLE`].
///
/// Most code needs only [`CommandExt`] (parent) and [`extract_env`] (child); use this carrier
/// with a process-spawning library that takes its own list of variables.
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{self, Environment};
///
/// let ctx = tracectx::TraceContext::new("sweep_7")?;
/// let mut env = Environment::new();
/// propagation::inject(&ctx.child(), &mut env);
/// let names: Vec<&str> = env.iter().map(|(name, _)| name).collect();
/// assert_eq!(names, ["TRACEPARENT", "BAGGAGE"]);
///
/// // What a child with these variables reads.
/// let there = propagation::extract(&env).unwrap();
/// assert_eq!(there.run_id(), "sweep_7");
/// assert_eq!(there.trace_id(), ctx.trace_id());
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(Cow<'static, str>, String)>,
}

impl Environment {
    /// An empty set of variables, to [`inject`] into.
    ///
    /// # Examples
    ///
    /// ```
    /// let env = tracectx::propagation::Environment::new();
    /// assert_eq!(env.iter().count(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// This process's `TRACEPARENT`, `TRACESTATE` and `BAGGAGE`, as they are now.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::Environment;
    ///
    /// // Whatever the launcher set (often nothing), and nothing else.
    /// let env = Environment::from_process();
    /// assert!(env.iter().all(|(name, _)| ["TRACEPARENT", "TRACESTATE", "BAGGAGE"].contains(&name)));
    /// ```
    pub fn from_process() -> Self {
        Self::from_vars(
            VARS.iter()
                .filter_map(|(_, var)| std::env::var_os(var).map(|value| (*var, value))),
        )
    }

    /// The given variables (a child's prepared environment, a test's), keeping the ones a
    /// propagator reads: `TRACEPARENT`, `TRACESTATE`, `BAGGAGE`, named exactly so (environment
    /// variables are case-sensitive on Unix). A later variable of the same name replaces an
    /// earlier one, as in an environment.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::{self, Environment};
    ///
    /// let env = Environment::from_vars([
    ///     ("PATH", "/usr/bin"),
    ///     ("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ///     ("BAGGAGE", "run_id=sweep_7"),
    ///     ("traceparent", "ignored: not the variable's name"),
    /// ]);
    /// assert_eq!(env.iter().count(), 2);
    /// assert_eq!(propagation::extract(&env).unwrap().run_id(), "sweep_7");
    /// ```
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let mut env = Self::new();
        for (name, value) in vars {
            let Some((_, var)) = VARS
                .iter()
                .find(|(_, var)| OsStr::new(var) == name.as_ref())
            else {
                continue;
            };
            let value = value.as_ref().to_str().unwrap_or(UNREADABLE);
            env.put(Cow::Borrowed(var), value);
        }
        env
    }

    /// The variables as `(name, value)` pairs, in the order they were first set.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::{Environment, Injector};
    ///
    /// let mut env = Environment::new();
    /// env.set("baggage", "run_id=a");
    /// env.set("baggage", "run_id=b"); // replaced
    /// assert_eq!(env.iter().collect::<Vec<_>>(), [("BAGGAGE", "run_id=b")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (&**k, v.as_str()))
    }

    fn put(&mut self, var: Cow<'static, str>, value: &str) {
        match self.vars.iter_mut().find(|(k, _)| *k == var) {
            Some((_, v)) => value.clone_into(v),
            None => self.vars.push((var, value.to_owned())),
        }
    }

    fn get(&self, var: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.as_str())
    }
}

impl Extractor for Environment {
    fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.get(&var_name(name)).into_iter()
    }
}

impl Injector for Environment {
    fn set(&mut self, name: &'static str, value: &str) {
        self.put(var_name(name), value);
    }

    fn existing(&self, name: &'static str) -> Option<String> {
        super::existing_values(self, name)
    }
}

/// Reads the context a parent process passed in this process's environment (`TRACEPARENT`,
/// `TRACESTATE`, `BAGGAGE`), as [`extract`] reads headers: the parent's run id and trace id, a
/// new span id, and the parent's span for the launch as the parent. `None` when there is no
/// valid `TRACEPARENT`.
///
/// Call it once, early in `main`, and run the program in the context (or in a context of its
/// own when there is none). Whoever launches a process sets its environment, so the run is the
/// launcher's choice, as it should be for a worker of a sweep or a step of a pipeline.
///
/// # Examples
///
/// ```no_run
/// use tracectx::prelude::*;
///
/// #[tokio::main]
/// async fn main() {
///     let ctx = tracectx::propagation::extract_env()
///         .unwrap_or_else(|| TraceContext::generate("worker"));
///     async {
///         // ... the worker's work, its log lines stamped with the parent's run
///     }
///     .in_trace_context(ctx)
///     .await;
/// }
/// ```
pub fn extract_env() -> Option<TraceContext> {
    extract(&Environment::from_process())
}

// === impl CommandExt ===

/// Passes a trace context to a child process in its environment: adds
/// [`with_current_trace_context`](CommandExt::with_current_trace_context) and
/// [`with_trace_context`](CommandExt::with_trace_context) to `std::process::Command` and, with
/// the feature `tokio-process`, `tokio::process::Command`.
///
/// The child is launched from a span of its own, a child of the context: its `TRACEPARENT`
/// names that span, so two children launched from one span are told apart. The child reads the
/// variables with [`extract_env`]; OpenTelemetry SDKs read them too.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use tracectx::propagation::CommandExt as _;
///
/// let ctx = tracectx::TraceContext::new("sweep_7")?;
/// let out = ctx.sync_scope(|| {
///     Command::new("sh")
///         .args(["-c", "echo \"$BAGGAGE\""])
///         .with_current_trace_context()
///         .output()
/// })?;
/// assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "run_id=sweep_7");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait CommandExt {
    /// Sets `TRACEPARENT`, `BAGGAGE` (the run id) and `TRACESTATE` (or removes it, when the
    /// context carries none) for a launch from `ctx`: a new span, child of `ctx`, is the
    /// child process's parent.
    ///
    /// A `BAGGAGE` already set on the command (`cmd.env("BAGGAGE", "tenant=acme")`) keeps its
    /// members after the run id's, as [`inject`](super::inject) keeps a carrier's (its own
    /// `run_id` left out); the one this process inherited is not the command's and is
    /// replaced. A `BAGGAGE` set after this call replaces the run id's, as `env` always does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use tracectx::propagation::{CommandExt as _, TraceParent};
    ///
    /// let ctx = tracectx::TraceContext::new("sweep_7")?;
    /// let mut cmd = Command::new("worker");
    /// cmd.with_trace_context(&ctx);
    /// let env: Vec<_> = cmd.get_envs().map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned()))).collect();
    /// let traceparent = env.iter().find(|(k, _)| k == "TRACEPARENT").unwrap().1.clone().unwrap();
    /// let sent = TraceParent::parse(traceparent.to_str().unwrap())?;
    /// assert_eq!(sent.trace_id(), ctx.trace_id());
    /// assert_ne!(sent.parent_id(), ctx.span_id()); // the launch's own span
    /// assert!(env.iter().any(|(k, v)| k == "TRACESTATE" && v.is_none())); // removed: none to pass
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn with_trace_context(&mut self, ctx: &TraceContext) -> &mut Self;

    /// [`with_trace_context`](Self::with_trace_context) with the current context. Outside any
    /// scope it removes `TRACEPARENT`, `TRACESTATE` and `BAGGAGE` from the child's environment,
    /// so a child never joins a trace (inherited from this process's own environment) it is
    /// not part of.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use tracectx::propagation::CommandExt as _;
    ///
    /// let mut cmd = Command::new("worker");
    /// cmd.env("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /// cmd.with_current_trace_context(); // outside any scope
    /// let mut removed: Vec<_> = cmd.get_envs().filter(|(_, v)| v.is_none()).map(|(k, _)| k.to_owned()).collect();
    /// removed.sort();
    /// assert_eq!(removed, ["BAGGAGE", "TRACEPARENT", "TRACESTATE"]);
    /// ```
    fn with_current_trace_context(&mut self) -> &mut Self;
}

/// The three things a command needs: read, set and remove a variable.
trait EnvTarget {
    /// The value set on the command itself (not one it would inherit); `None` when it is not
    /// set or removed.
    fn explicit_var(&self, name: &str) -> Option<String>;
    fn set_var(&mut self, name: &str, value: &str);
    fn remove_var(&mut self, name: &str);
}

/// Sets the three variables for a launch from `ctx`, or removes them when there is none.
///
/// A `BAGGAGE` the application set on the command keeps its members beside the run id, as
/// [`inject`] keeps a carrier's; one the command would only inherit from this process's
/// environment belongs to the launch of this process, not to the context, and is replaced.
fn write_env(target: &mut impl EnvTarget, ctx: Option<&TraceContext>) {
    let mut env = Environment::new();
    if let Some(ctx) = ctx {
        if let Some(baggage) = target.explicit_var("BAGGAGE") {
            env.put(Cow::Borrowed("BAGGAGE"), &baggage);
        }
        inject(&ctx.child(), &mut env);
    }
    for (_, var) in VARS {
        match env.get(var) {
            Some(value) => target.set_var(var, value),
            None => target.remove_var(var),
        }
    }
}

/// Both `Command`s: the variables through `env`/`env_remove`, and the extension.
macro_rules! command_ext {
    ($(#[$attr:meta])* $command:ty, $as_std:expr) => {
        $(#[$attr])*
        impl EnvTarget for $command {
            fn explicit_var(&self, name: &str) -> Option<String> {
                let value = $as_std(self).get_envs().find(|(k, _)| *k == name)?.1?;
                Some(value.to_str().unwrap_or(UNREADABLE).to_owned())
            }

            fn set_var(&mut self, name: &str, value: &str) {
                self.env(name, value);
            }

            fn remove_var(&mut self, name: &str) {
                self.env_remove(name);
            }
        }

        $(#[$attr])*
        impl CommandExt for $command {
            fn with_trace_context(&mut self, ctx: &TraceContext) -> &mut Self {
                write_env(self, Some(ctx));
                self
            }

            fn with_current_trace_context(&mut self) -> &mut Self {
                let ctx = crate::current();
                write_env(self, ctx.as_ref());
                self
            }
        }
    };
}

command_ext!(std::process::Command, std::convert::identity);

command_ext!(
    /// With the feature `tokio-process`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tracectx::prelude::*;
    /// use tracectx::propagation::CommandExt as _;
    ///
    /// let ctx = TraceContext::new("sweep_7")?;
    /// let out = async {
    ///     tokio::process::Command::new("sh")
    ///         .args(["-c", "echo \"$BAGGAGE\""])
    ///         .with_current_trace_context()
    ///         .output()
    ///         .await
    /// }
    /// .in_trace_context(ctx)
    /// .await?;
    /// assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "run_id=sweep_7");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tokio-process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio-process")))]
    tokio::process::Command,
    tokio::process::Command::as_std
);
