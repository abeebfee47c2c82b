"""What is reached without login at a secret address: the iCal export feed and the owner status page."""
