#!/bin/bash
#SBATCH -J a\"b
#SBATCH --comment=x\#y\\z
#SBATCH --partition=\debug
true
