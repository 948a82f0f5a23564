//! Static shape inference over the IR: fills unknown value shapes where the op semantics determine them.
