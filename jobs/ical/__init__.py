"""Pure iCal reading and writing (scan, source profiles, parse, recurrence, nights, export): may import jobs.rules and icalendar, never Flask, a database or the network."""
