"""What innobot does, platform-neutral: each module takes an IncomingMessage and returns Replies."""
