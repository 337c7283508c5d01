"""jaxrl_actions: JAX-native RL about action spaces."""
