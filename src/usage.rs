//! Usage figures of a user: what they store and run. (Being built: see issue 4.)
