"""The driver simulator (`movehub simulate`): motion, driver sessions, roster, dispatcher, cli."""
