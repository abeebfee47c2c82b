"""What a person or a client can do (links, exports, reservations, overbookings, Kigo accounts): plain
functions that the JSON API and the console pages both call; each refusal is one ActionError."""
