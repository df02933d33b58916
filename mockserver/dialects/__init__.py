"""The services' wire formats, one module each (gemini, geminigen, openai_images, vydra), what they share
(models.py: the models a contract lists; zod.py: checks in zod's words), and profiles.py: the one table of
services, each row a dialect plus that service's quirks."""
