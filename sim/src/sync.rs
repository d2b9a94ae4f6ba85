//! Shared state between tasks.

/// Locks a mutex, recovering from poisoning: every mutex in meshsim guards
/// plain data that a panicking holder cannot leave half-updated in a way
/// that matters, and a simulation must not cascade one panic into many.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
