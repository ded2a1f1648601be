"""The parts of the sandbox's state, one responsibility each; ``state.SandboxState`` joins them."""
