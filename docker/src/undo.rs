//! An undo stack that makes a multi-step attach all-or-nothing.
//!
//! Contract: each completed step pushes the action that reverses it. On failure the caller
//! calls [`Undo::rollback`], which runs the actions newest-first, keeps going when one fails and
//! reports every failure on stderr; on success it calls [`Undo::commit`], which forgets them.
//! Dropping a non-empty stack without either logs a loud warning (a bug in the caller).

use futures::future::BoxFuture;

/// One reversing action.
type Action = BoxFuture<'static, Result<(), String>>;

/// Stack of reversing actions.
#[derive(Default)]
pub struct Undo {
    actions: Vec<(String, Action)>,
}

impl std::fmt::Debug for Undo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.actions.iter().map(|(d, _)| d))
            .finish()
    }
}

impl Undo {
    /// An empty stack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the action that reverses the step just completed.
    pub fn push<F>(&mut self, what: impl Into<String>, f: F)
    where
        F: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.actions.push((what.into(), Box::pin(f)));
    }

    /// Number of registered actions.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when nothing needs undoing.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Success: forget the actions.
    pub fn commit(mut self) {
        self.actions.clear();
    }

    /// Failure: run every action newest-first; returns the failures (description, error).
    pub async fn rollback(mut self) -> Vec<(String, String)> {
        let mut failed = Vec::new();
        while let Some((what, f)) = self.actions.pop() {
            tracing::debug!("rollback: {what}");
            if let Err(e) = f.await {
                eprintln!("ovs-docker-rs: rollback step \"{what}\" failed: {e}");
                failed.push((what, e));
            }
        }
        failed
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if !self.actions.is_empty() {
            eprintln!(
                "ovs-docker-rs: BUG: {} undo actions dropped without rollback or commit: {:?}",
                self.actions.len(),
                self.actions.iter().map(|(d, _)| d).collect::<Vec<_>>()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn rollback_runs_newest_first_and_continues_past_failures() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut u = Undo::new();
        for i in 0..3 {
            let l = log.clone();
            u.push(format!("step{i}"), async move {
                l.lock().unwrap().push(i);
                if i == 1 {
                    Err("boom".to_string())
                } else {
                    Ok(())
                }
            });
        }
        let failed = u.rollback().await;
        assert_eq!(*log.lock().unwrap(), vec![2, 1, 0]);
        assert_eq!(failed, vec![("step1".to_string(), "boom".to_string())]);
    }

    #[tokio::test]
    async fn commit_runs_nothing() {
        let log = Arc::new(Mutex::new(0));
        let mut u = Undo::new();
        let l = log.clone();
        u.push("x", async move {
            *l.lock().unwrap() += 1;
            Ok(())
        });
        assert_eq!(u.len(), 1);
        u.commit();
        assert_eq!(*log.lock().unwrap(), 0);
    }
}
