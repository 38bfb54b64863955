"""Platform adapters: each turns platform events into IncomingMessages and renders Replies."""
