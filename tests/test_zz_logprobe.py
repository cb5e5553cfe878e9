import logging
def test_probe(app):
    print("\nonboarding logger disabled:", logging.getLogger("onboarding").disabled,
          "| onboarding.jobs disabled:", logging.getLogger("onboarding.jobs").disabled)
