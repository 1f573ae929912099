"""LiveDeck's benchmarks: standalone scripts that build their own world and print ratios."""
