"""What the Jumanji item-set experiments share: PPO's attention torso over `observation="items"`
(the default) and the flat-MLP baseline as variant `mlp`."""

# networks/attention.py: width 64, 2 attention blocks of 4 heads, a 64-wide critic after pooling.
SET_TORSO = dict(hidden_sizes=(64,), critic_hidden_sizes=(64,), torso="set", attention_layers=2, attention_heads=4)

TORSO_VARIANTS = {
    "attention": {},
    "mlp": {"env.observation": "flat", "agent.torso": "mlp", "agent.hidden_sizes": (256, 256),
            "agent.critic_hidden_sizes": (256, 256)},
}
