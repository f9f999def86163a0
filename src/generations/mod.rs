//! Generation history: the state machine of model runs. (Being built: see issue 4.)
