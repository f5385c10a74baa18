import os
def main():
    return os.environ["DATABASE_URL"]
