//! User settings and sealed provider API keys. (Being built: see issue 4.)
