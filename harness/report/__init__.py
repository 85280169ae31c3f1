"""Tables, plots and leaderboard exports."""
