"""The OpenAI engines behind `threads.adapter`; nothing outside the adapter imports them."""
