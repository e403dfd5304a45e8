print("particled")
